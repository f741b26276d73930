# Cronium-style: variables of every JSON type, and unset ones.
import cronium

values = {"p_none": None, "p_bool": False, "p_int": 7, "p_float": -0.5, "p_str": "ünï",
          "p_list": [1, [2]], "p_obj": {"k": {"v": 1}}, "p.dotted-key": "d"}
for k, v in values.items():
    cronium.set_variable(k, v)
back = {k: cronium.get_variable(k) for k in values}
cronium.output({"roundtrip": back == values, "unset": cronium.get_variable("p_never_set")})
cronium.set_condition(True)
