import RumorApps
import RumorCore
import RumorMetrics
import RumorRuntime
import RumorSupport
import RumorWire

/// `/metrics`: Prometheus's text format, read from counters the core, the runtime, the handlers and the actions
/// keep anyway. docs/observe.md maps each family to memberlist's and Serf's telemetry names.
extension Agent {
    func metricsText() -> String {
        var m = MetricsText()
        let (members, suspects, awareness, core, queues, clocks) = runtime.withInstance { i in
            (i.allMembers, i.suspects, i.awareness, i.counters, i.pendingBroadcasts, (i.clock.time, i.eventClock.time, i.queryClock.time))
        }
        m.family("rumor_build_info", .gauge, "The running version (always 1).")
        m.sample("rumor_build_info", [("version", RumorVersion.number)], 1)

        m.family("rumor_members", .gauge, "Members this node knows by status; a suspect is counted as suspect, not alive (serf.members).")
        var byStatus: [String: Int] = ["alive": 0, "suspect": 0, "leaving": 0, "left": 0, "failed": 0]
        for member in members {
            let status = member.status == .alive && suspects.contains(member.name) ? "suspect" : member.status.description
            byStatus[status, default: 0] += 1
        }
        for (status, n) in byStatus.sorted(by: { $0.key < $1.key }) { m.sample("rumor_members", [("status", status)], n) }
        m.single("rumor_health_score", .gauge, "Lifeguard's local health: 0 is healthy; each step stretches probe periods (memberlist.health.score).", Double(awareness))

        m.single("rumor_probes_total", .counter, "Probes this node started (memberlist.probeNode count).", Double(core.probes))
        m.single("rumor_probes_failed_total", .counter, "Probes whose period ended with no ack: the target became suspect.", Double(core.probesFailed))
        m.family("rumor_probe_rtt_seconds", .histogram, "Round trip of direct probes answered (memberlist.probeNode).")
        m.histogram("rumor_probe_rtt_seconds", [], core.probeRoundTrips)
        m.family("rumor_messages_received_total", .counter, "Memberlist messages received by type (memberlist.msg.*); compound parts count each.")
        for (type, label) in ProtocolCounters.messageTypes { m.sample("rumor_messages_received_total", [("type", label)], core.received[Int(type.rawValue)]) }
        m.family("rumor_messages_sent_total", .counter, "Memberlist messages sent over UDP by type (memberlist.gossip carries the piggybacked ones).")
        for (type, label) in ProtocolCounters.messageTypes where type != .pushPull {
            m.sample("rumor_messages_sent_total", [("type", label)], core.sent[Int(type.rawValue)])
        }
        m.single("rumor_push_pulls_total", .counter, "Push-pull state exchanges this node started (memberlist.pushPullNode).", Double(core.pushPulls))
        m.single("rumor_push_pulls_failed_total", .counter, "Push-pull exchanges this node started that failed.", Double(core.pushPullsFailed))

        let net = runtime.counters
        m.single("rumor_udp_packets_received_total", .counter, "UDP packets received (memberlist.udp.received).", Double(net.packetsReceived))
        m.single("rumor_udp_received_bytes_total", .counter, "UDP bytes received, as on the wire.", Double(net.packetBytesReceived))
        m.single("rumor_udp_packets_sent_total", .counter, "UDP packets sent (memberlist.udp.sent).", Double(net.packetsSent))
        m.single("rumor_udp_sent_bytes_total", .counter, "UDP bytes sent, as on the wire.", Double(net.packetBytesSent))
        m.single("rumor_tcp_streams_received_total", .counter, "Inbound TCP streams read whole (memberlist.tcp.accept).", Double(net.streamsReceived))
        m.single("rumor_tcp_received_bytes_total", .counter, "Bytes of inbound TCP streams (memberlist.tcp.received).", Double(net.streamBytesReceived))
        m.family("rumor_dropped_total", .counter, "Input refused, by reason: malformed, unexpected, poisoned_clock (core); undecryptable, stream_failed, stream_refused, stream_displaced (sockets).")
        var dropped: [(String, Int)] = ProtocolCounters.DropReason.allCases.map { ($0.rawValue, core.dropped[$0] ?? 0) }
        dropped += [("undecryptable", net.packetsUndecryptable), ("stream_failed", net.streamsFailed), ("stream_refused", net.streamsRefused),
                    ("stream_displaced", net.streamsDisplaced)]
        for (reason, n) in dropped { m.sample("rumor_dropped_total", [("reason", reason)], n) }

        let seen = observation.counters
        m.family("rumor_member_events_total", .counter, "Member events this node saw (serf.member.join, .leave, .failed, .update, .reap).")
        for type in MemberEventType.allCases {
            m.sample("rumor_member_events_total", [("type", String(type.rawValue.dropFirst("member-".count)))], seen.memberEvents[type] ?? 0)
        }
        m.single("rumor_user_events_total", .counter, "User events delivered (serf.events).", Double(seen.userEvents))
        m.single("rumor_queries_total", .counter, "Queries delivered (serf.queries).", Double(seen.queries))
        m.family("rumor_lamport_time", .gauge, "Serf's Lamport clocks (member, event, query).")
        m.sample("rumor_lamport_time", [("clock", "member")], Double(clocks.0))
        m.sample("rumor_lamport_time", [("clock", "event")], Double(clocks.1))
        m.sample("rumor_lamport_time", [("clock", "query")], Double(clocks.2))
        m.family("rumor_broadcast_queue", .gauge, "Serf broadcasts waiting to be gossiped (serf.queue.Intent, .Event, .Query).")
        m.sample("rumor_broadcast_queue", [("queue", "intent")], queues.intents)
        m.sample("rumor_broadcast_queue", [("queue", "event")], queues.events)
        m.sample("rumor_broadcast_queue", [("queue", "query")], queues.queries)

        let handlerCounters = handlers?.counters ?? HandlerCounters()
        m.family("rumor_handler_runs_total", .counter, "Event handler script runs by event type.")
        for (event, n) in handlerCounters.runs.sorted(by: { $0.key < $1.key }) { m.sample("rumor_handler_runs_total", [("event", event)], n) }
        m.single("rumor_handler_failures_total", .counter, "Handler runs that exited non-zero, were killed, timed out or never started.", Double(handlerCounters.failures))
        m.family("rumor_handler_duration_seconds", .histogram, "How long handler runs took.")
        m.histogram("rumor_handler_duration_seconds", [], handlerCounters.durations)

        m.single("rumor_app_changes_total", .counter, "App records this node took (deploys, scales, stops, rollbacks).", Double(seen.appChanges))
        m.single("rumor_app_records_refused_total", .counter, "App records refused by this node's apps_trust.", Double(seen.appRefusals))
        m.family("rumor_container_events_total", .counter, "Container events on this node by app and event (start, healthy, unhealthy, exit, replaced).")
        for (app, byEvent) in seen.containerEvents.sorted(by: { $0.key < $1.key }) {
            for (event, n) in byEvent.sorted(by: { $0.key < $1.key }) {
                m.sample("rumor_container_events_total", [("app", app), ("event", String(event.dropFirst("container-".count)))], n)
            }
        }
        rolloutMetrics(&m)
        for source in observation.metricsSources { source(&m) }
        return m.text
    }

    /// Each deployed app's rollout as this node follows it: `rumor_rollout_state{app,state}` is 1 for the current
    /// state, and the wave while one progresses.
    private func rolloutMetrics(_ m: inout MetricsText) {
        let records = runtime.withInstance { $0.appRecords }.values.sorted { $0.name < $1.name }
        let states = ["progressing", "done", "failed", "rolling back", "paused"]
        m.family("rumor_rollout_state", .gauge, "1 for the state of each app's rollout (progressing, done, failed, rolling back, paused).")
        var waves: [(String, Double, Double)] = []
        let members = coordinatorMembers()
        for r in records where !r.spec.isEmpty {
            let status = rolloutJSON(r, members: members)
            let state = status["state"]?.stringValue ?? "done"
            for s in states { m.sample("rumor_rollout_state", [("app", r.name), ("state", s)], s == state ? 1 : 0) }
            if let wave = status["wave"]?.doubleValue, let of = status["waves"]?.doubleValue { waves.append((r.name, wave, of)) }
        }
        m.family("rumor_rollout_wave", .gauge, "The wave a progressing rollout is in, of rumor_rollout_waves.")
        for (app, wave, _) in waves { m.sample("rumor_rollout_wave", [("app", app)], wave) }
        m.family("rumor_rollout_waves", .gauge, "How many waves a progressing rollout has.")
        for (app, _, of) in waves { m.sample("rumor_rollout_waves", [("app", app)], of) }
    }
}
