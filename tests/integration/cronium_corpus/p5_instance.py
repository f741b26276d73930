# Cronium-style: the cronium object itself.
from cronium import cronium

ev = cronium.event()
cronium.output({"name": ev["name"], "eventName": ev["eventName"], "userId": ev["userId"],
                "input_day": cronium.input()["day"]})
