from iro_metrics.cli import main

raise SystemExit(main())
