# Cronium-style: variables of every JSON type; non-JSON text is stored as a string.
cronium_set_variable b_num 42
cronium_set_variable b_float 2.5
cronium_set_variable b_bool true
cronium_set_variable b_text "hello world"
cronium_set_variable b_obj '{"a": [1, 2], "b": null}'
cronium_set_variable b_list '[1, "two", false]'
cronium_set_variable "b.dotted-key_1" dotted
if cronium_set_variable "has space" x 2>err.txt; then bad=1; else bad=0; fi
cronium_output "$(jq -cn --arg t "$(cronium_get_variable b_text)" --arg n "$(cronium_get_variable b_num)" \
  --arg d "$(cronium_get_variable b.dotted-key_1)" --arg e "$(cat err.txt)" --argjson bad "$bad" \
  '{text: $t, num: $n, dotted: $d, space_refused: ($bad == 0), error: ($e | test("^Error: .*HTTP 400"))}')"
