# Cronium-style: from cronium import input, output.
from cronium import input, output

data = input()
output({"got": data, "nested": {"list": [1, {"deep": True}], "text": "ok"}})
