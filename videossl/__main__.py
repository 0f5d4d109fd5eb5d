from videossl.cli import main

raise SystemExit(main())
