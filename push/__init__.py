"""Push delivery: matching domain events to each recipient's rules and delivering them."""
