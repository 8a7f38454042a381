from crampwatch.cli import main

main()
