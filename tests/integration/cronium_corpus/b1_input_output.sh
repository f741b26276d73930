# Cronium-style: read the input, write nested JSON output.
data=$(cronium_input)
cronium_output "$(echo "$data" | jq -c '{got: ., nested: {list: [1, {deep: true}], text: "ok"}}')"
