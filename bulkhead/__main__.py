"""`python -m bulkhead`: the same as the `bulkhead` command."""

from bulkhead.cli import main

if __name__ == "__main__":
    main()
