import RumorSupport
/// A server as `show servers state` reports it.
struct ServerRuntimeState: Sendable, Hashable {
    var name: String
    var address: String
    var port: Int
    /// srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping.
    var operationalState: Int
    /// srv_admin_state bits: 0x01 forced maint, 0x02 inherited maint, 0x04 configured maint (a marker that stays
    /// after `state ready`), 0x08 forced drain, 0x10 inherited drain, 0x20 resolution maint, 0x40 hostname maint.
    var adminState: Int

    /// The state rumor last set, as HAProxy sees it.
    var state: SlotState {
        if adminState & 0x63 != 0 { return .maint }
        if adminState & 0x18 != 0 { return .drain }
        return .ready
    }

    var isUp: Bool { operationalState == 2 }
}

/// The master CLI's `show proc`.
struct HAProxyProcessList: Sendable, Hashable {
    var masterPID: Int32
    /// Reloads since the master started, and how many of them failed.
    var reloads: Int
    var failedReloads: Int
    /// Current workers (normally one) and workers of previous generations still finishing connections.
    var workers: [Int32]
    var oldWorkers: [Int32]

    static func parse(_ text: String) -> HAProxyProcessList? {
        var list = HAProxyProcessList(masterPID: 0, reloads: 0, failedReloads: 0, workers: [], oldWorkers: [])
        var section = "master"
        var sawMaster = false
        for line in text.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("#") {
                if trimmed.hasPrefix("# workers") { section = "workers" }
                else if trimmed.hasPrefix("# old workers") { section = "old" }
                else if trimmed.hasPrefix("# programs") { section = "programs" }
                continue
            }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3, let pid = Int32(fields[0]) else { continue }
            switch fields[1] {
            case "master":
                sawMaster = true
                list.masterPID = pid
                list.reloads = Int(fields[2]) ?? 0
                // 2.6: "1 [failed: 0]"
                if fields.count >= 5, fields[3] == "[failed:" { list.failedReloads = Int(fields[4].dropLast()) ?? 0 }
            case "worker":
                if section == "old" { list.oldWorkers.append(pid) } else { list.workers.append(pid) }
            default:
                continue
            }
        }
        return sawMaster ? list : nil
    }
}

/// HAProxy's runtime API (stats socket with `level admin`) and master CLI, as the action uses them.
struct HAProxyRuntimeAPI: Sendable {
    var statsSocket: String
    var masterSocket: String

    /// Runs one runtime command and fails on HAProxy's error answers ("No such server.", "Unknown command", ...).
    @discardableResult
    func execute(_ command: String, timeout: Duration = .seconds(5)) throws(HAProxyActionError) -> String {
        let response = try UnixSocketClient.exchange(path: statsSocket, command: command, timeout: timeout)
        let text = response.trimmingSpaces()
        if !Self.isSuccess(command: command, response: text) {
            throw .runtimeAPI(socket: statsSocket, command: command, message: text.isEmpty ? "no answer" : text)
        }
        return response
    }

    /// `set server` answers nothing on success, or a report of what changed.
    static func isSuccess(command: String, response: String) -> Bool {
        if !command.hasPrefix("set server") { return !response.hasPrefix("Unknown command") }
        return response.isEmpty || response.contains("changed from") || response.contains("no need to change")
    }

    func serversState(backend: String) throws(HAProxyActionError) -> [String: ServerRuntimeState] {
        let text = try UnixSocketClient.exchange(path: statsSocket, command: "show servers state \(backend)")
        var servers: [String: ServerRuntimeState] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ")
            // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (19th)
            guard f.count >= 19, f[1] == backend, let op = Int(f[5]), let admin = Int(f[6]) else { continue }
            servers[String(f[3])] = ServerRuntimeState(
                name: String(f[3]), address: String(f[4]), port: Int(f[18]) ?? 0, operationalState: op,
                adminState: admin)
        }
        if servers.isEmpty, !text.contains("be_id") {
            throw .runtimeAPI(
                socket: statsSocket, command: "show servers state \(backend)", message: text.trimmingSpaces())
        }
        return servers
    }

    func processList(timeout: Duration = .seconds(5)) throws(HAProxyActionError) -> HAProxyProcessList {
        let text = try UnixSocketClient.exchange(path: masterSocket, command: "show proc", timeout: timeout)
        guard let list = HAProxyProcessList.parse(text) else {
            throw .runtimeAPI(socket: masterSocket, command: "show proc", message: "unexpected answer: \(text)")
        }
        return list
    }

    /// Hitless reload through the master CLI: the master re-executes itself, reads the configuration again and
    /// takes the listening sockets over from the old worker, which finishes its connections and exits. Returns
    /// once a new worker runs (HAProxy 2.6's `reload` answers nothing, so `show proc` is polled).
    func reload(timeout: Duration = .seconds(15)) throws(HAProxyActionError) -> HAProxyProcessList {
        let before = try processList()
        _ = try UnixSocketClient.exchange(path: masterSocket, command: "reload", timeout: timeout)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // The master is briefly away while it re-executes; connection errors then are expected.
            if let now = try? processList(timeout: .seconds(1)) {
                if now.failedReloads > before.failedReloads {
                    throw .reloadFailed(reason: "the master could not load the new configuration (see its log)")
                }
                if now.reloads > before.reloads, !now.workers.isEmpty, now.workers != before.workers {
                    return now
                }
            }
            sleepBriefly(.milliseconds(5))
        }
        throw .reloadFailed(reason: "no new worker within \(GoDuration.format(timeout))")
    }
}
