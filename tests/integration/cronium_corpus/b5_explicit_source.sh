# Cronium-style: source the helper file explicitly, as Cronium's documentation says.
source /usr/local/bin/cronium.sh
data=$(cronium_input)
cronium_output "$(echo "$data" | jq -c '{got: ., nested: {list: [1, {deep: true}], text: "ok"}}')"
