from rayqe.cli import main

main()
