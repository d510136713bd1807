from jupiter.cli import main

main()
