from sapt_core.cli import main

raise SystemExit(main())
