"""phananh: the wiring of the intake core, its channels and the admin into one program."""
