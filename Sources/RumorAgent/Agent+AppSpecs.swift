import Logging
import NIOCore
import RumorApps
import RumorCore
import RumorCrypto
import RumorRuntime
import RumorSupport
import RumorWire

/// The cluster-wide app specs on the agent's side (the core keeps the records and merges them, see
/// Instance+Apps.swift): `rumor apps deploy|scale|stop`, the `rumor:apps` digest tag that tells peers who is behind,
/// the exchange with any member whose digest differs, and the copy beside the snapshot a restarted node resumes from.
extension Agent {
    /// The tag whose value is this node's digest of the cluster's app specs, on nodes that run apps; nodes that
    /// only hold specs (a load balancer someone deployed from) carry `specsTag` instead, so a deploy can tell
    /// whether any node will run the app.
    public static let appsTag = AppTag.runnerKey
    public static let specsTag = "rumor:specs"

    /// `<snapshot_path>.apps`: one JSON file, rewritten on every change (deploys are rare and small).
    var appStorePath: String? { configuration.snapshotPath.map { $0 + ".apps" } }

    /// The app's cluster-wide record while it is deployed (not stopped). Call on `eventLoop`.
    func deployedRecord(_ name: String) -> AppRecord? {
        runtime.withInstance { $0.appRecords[name] }.flatMap { $0.spec.isEmpty ? nil : $0 }
    }

    /// Runs `listener` on `eventLoop` after every change of the cluster-wide specs.
    public func onClusterAppsChange(_ listener: @escaping @Sendable () -> Void) {
        eventLoop.execute { self.appListeners.append(listener) }
    }

    /// Marks this node as one that runs apps: it carries the digest tag (so peers bring it every spec) even while
    /// it knows none.
    func becomeAppsNode() {
        appsNode = true
        refreshAppsTag()
    }

    func loadAppStore() {
        if let path = appStorePath {
            do {
                if let bytes = try DurableFile.readAllIfExists(path) {
                    for record in try Self.decodeAppStore(bytes) { runtime.submit(.putApp(record)) }
                }
            } catch {
                // Not fatal: every other node holds the same specs and brings them back.
                logger.error("apps: cannot read the cluster's app specs from \(path): \(error); starting without them")
            }
        }
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(2), delay: .seconds(5)) { [weak self] _ in self?.syncApps() }
        // Monitor periods and deadlines end with no event: rollouts under way look again every second.
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in self?.followRollouts() }
    }

    func appChanged(_ record: AppRecord) {
        let what = record.spec.isEmpty ? "stopped" : "deployed"
        logger.info("apps: \(record.name): \(what) cluster-wide by \(record.origin) (Lamport time \(record.ltime))")
        let records = runtime.withInstance { Array($0.appRecords.values) }
        appsDigest = Self.digest(of: records)
        if let path = appStorePath {
            do { try DurableFile.writeAtomically(Array(Self.encodeAppStore(records).utf8), to: path) } catch {
                logger.error("apps: cannot save the cluster's app specs to \(path): \(error)")
            }
        }
        refreshAppsTag()
        updateRollouts()
    }

    /// A record the gate refused (the core reports each once). Every one is logged, up to 20 a minute: a peer
    /// that makes up records by the thousand fills no disk, and the line after a quiet spell says how many went unlogged.
    func appRefused(_ app: String, serial: UInt64, origin: String, source: String, reason: String) {
        let now = NIODeadline.now()
        if now - refusalLog.start >= .seconds(60) { refusalLog = (now, 0, refusalLog.unlogged) }
        refusalLog.count += 1
        guard refusalLog.count <= 20 else { return refusalLog.unlogged += 1 }
        let unlogged = refusalLog.unlogged > 0 ? " (\(refusalLog.unlogged) earlier refusals went unlogged)" : ""
        refusalLog.unlogged = 0
        // Names come from the network: escaped and cut (JSON.excerpt), so they cannot forge a log line.
        let (app, origin) = (JSON.excerpt(app, limit: 128, quoted: false), JSON.excerpt(origin, limit: 128, quoted: false))
        logger.warning("apps: refused app spec '\(app)' (serial \(serial)) deployed by node '\(origin)', from \(source): \(reason)\(unlogged)")
    }

    /// The digest peers compare with theirs (the tag's value): equal digests, equal specs; "0" for none. FNV-1a
    /// over name, Lamport time and origin of every record, so every node computes the same one.
    static func digest(of records: some Collection<AppRecord>) -> String {
        guard !records.isEmpty else { return "0" }
        let canonical = records.sorted { $0.name < $1.name }.map { "\($0.name)\u{0}\($0.serial)\u{0}\($0.ltime)\u{0}\($0.origin)\u{0}" }
        return String(StableHash.fnv1a(canonical.joined()), radix: 16)
    }

    func refreshAppsTag() {
        guard appsNode || appsDigest != "0" else { return }
        _ = updateActionTags(appsNode ? [Self.appsTag: appsDigest, Self.specsTag: nil] : [Self.specsTag: appsDigest])
    }

    /// A member whose digest differs from ours has specs we lack, or lacks ours: one push-pull fixes both sides.
    /// Each (member, its digest, ours) is tried at most every 5 s. Runs on every member event, so a member without
    /// the tag costs one dictionary lookup.
    func syncApps(with member: Member? = nil) {
        let ours = appsDigest
        let now = NIODeadline.now()
        for m in member.map({ [$0] }) ?? members() where m.name != name && m.status == .alive {
            guard let theirs = m.tags[Self.appsTag] ?? m.tags[Self.specsTag], theirs != ours else { continue }
            let key = "\(m.name)/\(theirs)/\(ours)"
            if let last = appSyncs[key], now - last < .seconds(5) { continue }
            appSyncs[key] = now
            runtime.submit(.pushPullWith(node: m.name))
        }
        if appSyncs.count > 4096 { appSyncs = appSyncs.filter { now - $0.value < .seconds(5) } }
    }

    // MARK: Commands

    /// A change the client made and (when it has a key) signed: the exact spec the record will hold, its serial,
    /// and the hash of the spec it read as current. Refused here, with why, when the app changed since the client
    /// read it or when this node's own `apps_trust` would refuse the record, so nothing is sent that workers drop.
    func changeApp(_ request: RPCAppsRequest) throws -> String {
        let (op, name) = (request.op, request.name)
        guard !name.isEmpty else { throw CommandError("apps \(op): an app name is needed") }
        let current = runtime.withInstance { $0.appRecords[name] }
        let running = current.flatMap { $0.spec.isEmpty ? nil : $0 }
        if op != .deploy, running == nil { throw CommandError("apps \(op): no app '\(name)' is deployed cluster-wide") }
        if op == .rollback, running?.previous.isEmpty == true {
            throw CommandError("apps rollback: \(name)'s deploy (serial \(running?.serial ?? 0)) replaced nothing; there is no previous spec")
        }
        let previous = current?.spec ?? []
        guard request.previous == StableHash.ofSpec(previous) else {
            throw CommandError("apps \(op): \(name) changed since it was read (now serial \(current?.serial ?? 0), by \(current?.origin ?? "?")); nothing was sent: run the command again")
        }
        guard request.serial > (current?.serial ?? 0) else {
            throw CommandError("apps \(op): serial \(request.serial) is not past \(name)'s current \(current?.serial ?? 0); nothing was sent")
        }
        let parsed = request.spec.isEmpty ? nil : try Self.validated(request.spec, name: name)
        let rollback = op == .rollback ? "rolled back by hand on \(self.name)" : ""
        let authority = AppAuthority(serial: request.serial, signer: request.signer, signature: request.signature)
        let candidate = AppRecord(name: name, serial: authority.serial, ltime: 0, origin: self.name, spec: Array(request.spec.utf8),
                                  previous: previous, rollback: rollback, signer: authority.signer, signature: authority.signature)
        if let why = appTrust.refusal(of: candidate) {
            throw CommandError("apps \(op): this node would refuse the change: \(why); nothing was sent")
        }
        runtime.submit(.deployApp(name: name, spec: candidate.spec, rollback: rollback, authority: authority))
        let signed = authority.signature.isEmpty ? "unsigned" : "signed by \(Self.keyText(authority.signer))"
        switch op {
        case .stop: return "stopping \(name) cluster-wide (serial \(authority.serial), \(signed))"
        case .rollback:
            return "rolling \(name) back cluster-wide to the spec serial \(current?.serial ?? 0) replaced (serial \(authority.serial), \(signed))"
        default:
            let verb = op == .scale ? "scaling" : "deploying"
            return "\(verb) \(name) cluster-wide (serial \(authority.serial), \(signed)): " + (parsed.map(placementSummary) ?? "")
        }
    }

    static func keyText(_ signer: [UInt8]) -> String {
        (try? AppPublicKey(bytes: signer)).map(\.base64) ?? "an unreadable key"
    }

    /// `record`: what a client needs to make and sign a change: the serial, the spec (text) and the previous one.
    func appRecordJSON(_ name: String) -> String {
        let r = runtime.withInstance { $0.appRecords[name] }
        return JSON.object([
            ("app", .string(name)), ("serial", .string(String(r?.serial ?? 0))),
            ("spec", .string(String(decoding: r?.spec ?? [], as: UTF8.self))),
            ("previous", .string(String(decoding: r?.previous ?? [], as: UTF8.self))),
            ("signer", .string(r.map { $0.signer.isEmpty ? "" : Self.keyText($0.signer) } ?? "")),
        ]).serialized()
    }

    /// Which alive nodes that run apps match the spec's placement, in words (a deploy nobody runs says so).
    func placementSummary(_ spec: AppSpec) -> String {
        let runners = members().filter { $0.status == .alive && $0.tags[Self.appsTag] != nil }
        let matching = runners.filter { spec.isPlaced(onNodeWithTags: $0.tags) }
        if runners.isEmpty { return "but no node runs apps yet (rumor agent --apps-dir); it starts where one joins" }
        if matching.isEmpty {
            return "but none of the \(runners.count) node(s) that run apps matches its placement \(spec.placement); it starts where one does"
        }
        return "\(matching.count) of \(runners.count) node(s) that run apps match its placement"
    }

    /// `rumor apps status NAME`: the deployed spec and, for every node that runs apps or advertises the app, what
    /// it advertises ready (its `app:NAME` tag), so one command on any node shows what runs where.
    func appStatusJSON(_ name: String) throws -> String {
        let record = runtime.withInstance { $0.appRecords[name] }
        let key = AppTag.key(app: name)
        let nodes = members().filter { $0.tags[key] != nil || ($0.status == .alive && $0.tags[Self.appsTag] != nil) }
        guard record != nil || nodes.contains(where: { $0.tags[key] != nil }) else {
            throw CommandError("no app '\(name)' is deployed cluster-wide or advertised by any node")
        }
        let rows: [JSON] = nodes.sorted { $0.name < $1.name }.map { m in
            let endpoints = AppTag.parse(m.tags[key] ?? "").endpoints.map { e in
                JSON.string(e.host.map { "\(e.slot)/\($0):\(e.port)" } ?? "\(e.slot)/\(m.address.host):\(e.port)")
            }
            var row: [(String, JSON)] = [("node", .string(m.name)), ("status", .string(m.status.description)), ("ready", .array(endpoints))]
            if let (hash, state, rule) = m.tags[RunTag.key(app: name)].flatMap(RunTag.parse) {
                row += [("template_hash", .string(hash)), ("run", .string(Self.runStateName(state)))]
                if !rule.isEmpty { row.append(("refused", .string(rule))) }
            }
            return .object(row)
        }
        var fields: [(String, JSON)] = [("app", .string(name))]
        if let r = record {
            fields += [("state", .string(r.spec.isEmpty ? "stopped" : "deployed")), ("ltime", .string(String(r.ltime))),
                       ("origin", .string(r.origin)), ("spec_hash", .string(StableHash.ofSpec(r.spec))),
                       ("previous_hash", .string(r.previous.isEmpty ? "" : StableHash.ofSpec(r.previous))),
                       ("rollout", rolloutJSON(r))]
            if let spec = try? AppSpec.parse(String(decoding: r.spec, as: UTF8.self), name: name, file: "the deployed spec") {
                fields.append(("template_hash", .string(spec.templateHash)))
            }
            if !r.rollback.isEmpty { fields.append(("rollback", .string(r.rollback))) }
        }
        fields.append(("nodes", .array(rows)))
        return JSON.object(fields).serialized()
    }

    /// The cluster-wide specs as `rumor apps specs` prints them.
    func appSpecsJSON() -> String {
        let records = runtime.withInstance { $0.appRecords.values.sorted { $0.name < $1.name } }
        return JSON.array(records.map { r in
            .object([
                ("app", .string(r.name)), ("state", .string(r.spec.isEmpty ? "stopped" : "deployed")),
                ("ltime", .string(String(r.ltime))), ("origin", .string(r.origin)),
                ("spec", (try? JSON.parse(r.spec)) ?? .null),
            ])
        }).serialized()
    }

    static func validated(_ text: String, name: String) throws -> AppSpec {
        do { return try AppSpec.parse(text, name: name, file: "the deployed spec") } catch {
            throw CommandError("apps deploy: \(error); nothing was sent")
        }
    }

    // MARK: The store file

    static func encodeAppStore(_ records: [AppRecord]) -> String {
        JSON.array(records.sorted { $0.name < $1.name }.map { r in
            .object([
                ("name", .string(r.name)), ("serial", .string(String(r.serial))), ("ltime", .string(String(r.ltime))),
                ("origin", .string(r.origin)), ("spec", .string(String(decoding: r.spec, as: UTF8.self))),
            ] + (r.previous.isEmpty ? [] : [("previous", .string(String(decoding: r.previous, as: UTF8.self)))])
              + (r.rollback.isEmpty ? [] : [("rollback", .string(r.rollback))])
              + (r.signature.isEmpty ? [] : [("signer", .string(Base64.encode(r.signer))), ("signature", .string(Base64.encode(r.signature)))]))
        }).serialized(indent: 2)
    }

    static func decodeAppStore(_ bytes: [UInt8]) throws -> [AppRecord] {
        guard let items = try JSON.parse(bytes).arrayValue else { throw CommandError("expected a JSON array") }
        return try items.map { item in
            guard let name = item["name"]?.stringValue, let ltime = item["ltime"]?.stringValue.flatMap({ UInt64($0) }),
                let origin = item["origin"]?.stringValue, let spec = item["spec"]?.stringValue
            else { throw CommandError("a record without name, ltime, origin or spec: \(item.serialized())") }
            return AppRecord(name: name, serial: item["serial"]?.stringValue.flatMap { UInt64($0) } ?? 0, ltime: ltime, origin: origin,
                             spec: Array(spec.utf8), previous: Array((item["previous"]?.stringValue ?? "").utf8),
                             rollback: item["rollback"]?.stringValue ?? "",
                             signer: item["signer"]?.stringValue.flatMap(Base64.decode) ?? [],
                             signature: item["signature"]?.stringValue.flatMap(Base64.decode) ?? [])
        }
    }
}
