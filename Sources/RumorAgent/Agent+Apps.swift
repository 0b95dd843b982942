import NIOCore
import RumorCore
import RumorRuntime
import RumorWire

extension Agent {
    /// Set by the container action: answers `apps` RPC calls (JSON text), or throws a message for the CLI.
    public func setAppsProvider(_ provider: @escaping @Sendable (_ op: AppsOperation, _ name: String) throws -> String) {
        eventLoop.execute {
            self.appsProvider = provider
            self.becomeAppsNode()
        }
    }

    /// `ls` and `inspect` ask this node's container action; `specs`, `status`, `record` and the changes (`deploy`,
    /// `scale`, `stop`, `rollback`) are about the cluster-wide specs, which any Rumor node holds and can change.
    public func apps(_ request: RPCAppsRequest) -> EventLoopFuture<String> {
        eventLoop.submit { [self] in
            switch request.op {
            case .specs: return appSpecsJSON()
            case .status: return try appStatusJSON(request.name)
            case .record: return appRecordJSON(request.name)
            case .deploy, .scale, .stop, .rollback: return try changeApp(request)
            case .ls, .inspect:
                guard let appsProvider else { throw CommandError(AgentAppsError.notRunning) }
                return try appsProvider(request.op, request.name)
            }
        }
    }

    /// Tags an action owns (`app:<name>`): gossiped like `serf tags`, but not written to the tags file, since the
    /// action sets them again from what actually runs each time it starts.
    public func updateActionTags(_ changes: [String: String?]) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            var tags = runtime.withInstance { $0.tags }
            for (key, value) in changes { tags[key] = value }
            let encoded = SerfCodec.encodeTags(tags).count
            guard encoded <= 512 else {
                throw CommandError(
                    "tags would take \(encoded) bytes, over memberlist's 512-byte limit for member meta: "
                        + "advertise fewer containers per node or shorten other tags")
            }
            if tags != runtime.withInstance({ $0.tags }) { runtime.submit(.setTags(tags)) }
        }
    }

    /// Runs the handlers whose filter names this event (`container-start`, ...): Rumor's own events, which `*`
    /// does not match, so existing Serf scripts never see an event type they do not know.
    public func fireActionEvent(type: String, environment: [String: String]) {
        eventLoop.execute { [self] in
            observeContainer(type: type, environment: environment)
            handlers?.handle(.action(type: type, environment: environment), selfMember: runtime.instance.localMember)
        }
    }
}
