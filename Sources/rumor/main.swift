import RumorCLI

await RumorCommand.main()
