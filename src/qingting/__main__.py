from qingting.cli import main

main()
