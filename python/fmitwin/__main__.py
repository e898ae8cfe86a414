from fmitwin.cli import main

raise SystemExit(main())
