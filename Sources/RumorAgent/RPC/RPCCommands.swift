import Logging
import NIOCore
import RumorCore
import RumorWire

/// Command name → handler. A new command is one entry here plus its handler function (RPCCommands+Events.swift has
/// the event, query, stream, monitor and key commands); the connection takes care of framing, ordering, handshake
/// and auth.
enum RPCCommands {
    typealias Command = RPCProtocol.Command

    static let table: [String: RPCCommandHandler] = [
        Command.handshake: .init(hasBody: true, run: handshake),
        Command.auth: .init(hasBody: true, run: auth),
        Command.members: .init(hasBody: false, run: members),
        Command.membersFiltered: .init(hasBody: true, run: membersFiltered),
        Command.join: .init(hasBody: true, run: join),
        Command.leave: .init(hasBody: false, run: leave),
        Command.forceLeave: .init(hasBody: true, run: forceLeave),
        Command.stats: .init(hasBody: false, run: stats),
        Command.stop: .init(hasBody: true, run: stop),
        Command.event: .init(hasBody: true, run: event),
        Command.tags: .init(hasBody: true, run: tags),
        Command.query: .init(hasBody: true, run: query),
        Command.respond: .init(hasBody: true, run: respond),
        Command.stream: .init(hasBody: true, run: stream),
        Command.monitor: .init(hasBody: true, run: monitor),
        Command.installKey: keyCommand(.install),
        Command.useKey: keyCommand(.use),
        Command.removeKey: keyCommand(.remove),
        Command.listKeys: keyCommand(.list),
        Command.getCoordinate: .init(hasBody: true, run: getCoordinate),
        Command.apps: .init(hasBody: true, run: apps),
    ]

    // MARK: Session

    static func handshake(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCHandshakeRequest(from: call.body)
        if req.version != RPCProtocol.ipcVersion {
            return call.reply(error: RPCProtocol.ErrorText.unsupportedIPCVersion)
        }
        if call.connection.didHandshake {
            return call.reply(error: RPCProtocol.ErrorText.duplicateHandshake)
        }
        call.connection.markHandshake()
        return call.reply(.ok)
    }

    static func auth(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCAuthRequest(from: call.body)
        let ok = call.connection.authenticate(req.authKey)
        return call.reply(error: ok ? "" : RPCProtocol.ErrorText.invalidAuthToken)
    }

    /// `stop` always succeeds, whether or not `Stop` names a live stream or monitor.
    static func stop(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCStopRequest(from: call.body)
        call.connection.cancelSubscription(seq: req.stop)
        return call.reply(.ok)
    }

    // MARK: Membership

    static func members(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        call.reply(body: membersBody(call.backend.members()))
    }

    static func membersFiltered(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCMembersFilteredRequest(from: call.body)
        let filter: RPCMemberFilter
        do {
            filter = try RPCMemberFilter(req)
        } catch {
            // Serf's agent closes the connection here; an error the CLI can print is kinder. The body is still
            // sent because the CLI always decodes one.
            return call.reply(error: error.description, body: RPCMembersResponse(members: []))
        }
        return call.reply(body: membersBody(call.backend.members().filter(filter.matches)))
    }

    /// Sorted by name so output is stable (Go's agent uses map order, which is random: any order is compatible).
    private static func membersBody(_ members: [Member]) -> RPCMembersResponse {
        let sorted = members.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return RPCMembersResponse(members: sorted.map(RPCMember.init))
    }

    static func join(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCJoinRequest(from: call.body)
        return call.backend.join(req.existing, replay: req.replay).map { result in
            RPCReply(error: joinErrorText(result), body: RPCJoinResponse(num: Int32(clamping: result.joined)))
        }.recover { error in
            RPCReply(error: error.rpcErrorText, body: RPCJoinResponse(num: 0))
        }
    }

    /// As memberlist: partial success is success; total failure lists every error the way go-multierror does.
    static func joinErrorText(_ result: JoinResult) -> String {
        guard result.joined == 0, !result.errors.isEmpty else { return "" }
        if result.errors.count == 1 { return "1 error occurred:\n\t* \(result.errors[0])\n\n" }
        let points = result.errors.map { "* \($0)" }.joined(separator: "\n\t")
        return "\(result.errors.count) errors occurred:\n\t\(points)\n\n"
    }

    /// Replies first, then starts the leave: the agent shuts down when the leave completes, which would otherwise
    /// race the reply.
    static func leave(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        call.logger.info("RPC: graceful leave triggered")
        let backend = call.backend
        return call.reply(RPCReply(afterWrite: { backend.eventLoop.execute { _ = backend.leave() } }))
    }

    static func forceLeave(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCForceLeaveRequest(from: call.body)
        return call.backend.forceLeave(node: req.node, prune: req.prune)
            .map { RPCReply.ok }
            .recover { RPCReply(error: $0.rpcErrorText) }
    }

    // MARK: Introspection

    static func apps(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCAppsRequest(from: call.body)
        return call.backend.apps(req)
            .map { RPCReply(body: RPCAppsResponse(json: $0)) }
            .recover { RPCReply(error: $0.rpcErrorText, body: RPCAppsResponse(json: "")) }
    }

    static func stats(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        call.reply(body: RPCStatsResponse(sections: call.backend.stats()))
    }
}
