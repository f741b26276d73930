# Cronium-style: a counter kept across runs of the same job.
n=$(cronium_increment_variable b_counter)
cronium_append_variable b_trail "run$n" ","
cronium_output "{\"run\": $n}"
