"""The PQL parser by construct; ``pql.parser`` combines the parts (``Parser``) and is the entry point."""
