"""Machine translation (Multi30k EN→DE): corpus reading, tokenisation, metrics and decoding."""
