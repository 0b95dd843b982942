import ArgumentParser

extension RumorCommand {
    /// Every subcommand, in the order `rumor --help` lists them.
    static var subcommandTypes: [any ParsableCommand.Type] {
        [
            AgentCommand.self, MembersCommand.self, JoinCommand.self, LeaveCommand.self, ForceLeaveCommand.self,
            EventCommand.self, QueryCommand.self, TagsCommand.self, KeysCommand.self, MonitorCommand.self,
            ReachabilityCommand.self, InfoCommand.self, KeygenCommand.self, VersionCommand.self,
        ]
    }
}
