from tidings.cli import main

if __name__ == "__main__":  # worker processes (page extraction) import this module again: they must not run it
    raise SystemExit(main())
