import RumorCLI

await RumorCommand.run()
