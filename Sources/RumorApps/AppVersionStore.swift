import RumorSupport

/// The version of every app this node knows, removed ones included as tombstones (so an old deploy arriving late
/// cannot bring a removed app back). Merging is by ``AppVersion`` order only, so announcements, anti-entropy and a
/// restart's reload all converge to the same store on every node.
public struct AppVersionStore: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// It is the app's version now (`replaced`: the one before, if any).
        case accepted(replaced: AppVersion?)
        /// Already known.
        case known
        /// Older than the app's version, which stays.
        case stale(current: AppVersion)
    }

    /// App → its latest version, tombstones included.
    public private(set) var versions: [String: AppVersion] = [:]

    public init() {}

    public mutating func offer(_ version: AppVersion) -> Outcome {
        guard let current = versions[version.app] else {
            versions[version.app] = version
            return .accepted(replaced: nil)
        }
        if current == version { return .known }
        guard current < version else { return .stale(current: current) }
        versions[version.app] = version
        return .accepted(replaced: current)
    }

    /// The app's running version; nil when unknown or removed.
    public func current(_ app: String) -> AppVersion? { versions[app].flatMap { $0.isRemoval ? nil : $0 } }

    /// Live apps by name.
    public var apps: [AppVersion] { versions.values.filter { !$0.isRemoval }.sorted { $0.app < $1.app } }

    /// The version a deploy of `specHash` made here at `lamport` announces.
    public func deploy(app: String, specHash: String, lamport: UInt64) -> AppVersion {
        let current = versions[app]
        return AppVersion(app: app, generation: (current?.generation ?? 0) + 1, lamport: lamport, specHash: specHash,
                          previousHash: current.flatMap { $0.isRemoval ? nil : $0.specHash })
    }

    /// The tombstone `rumor apps stop`/remove announces.
    public func removal(app: String, lamport: UInt64) -> AppVersion {
        AppVersion(app: app, generation: (versions[app]?.generation ?? 0) + 1, lamport: lamport, specHash: "",
                   previousHash: current(app)?.specHash)
    }

    /// The rollback of the app's current version: its previous spec, announced as a newer version; nil when there
    /// is nothing to go back to.
    public func rollback(app: String, lamport: UInt64) -> AppVersion? {
        guard let current = current(app), let previous = current.previousHash else { return nil }
        return AppVersion(app: app, generation: current.generation + 1, lamport: lamport, specHash: previous,
                          previousHash: current.specHash)
    }

    /// Anti-entropy: the versions a peer holding `digest` lacks or holds older.
    public func newer(than digest: [String: AppVersion]) -> [AppVersion] {
        versions.values.filter { mine in digest[mine.app].map { $0 < mine } ?? true }.sorted { $0.app < $1.app }
    }

    /// Forgets tombstones from before `lamport` (a node away since then could bring such an app back).
    public mutating func forgetTombstones(before lamport: UInt64) {
        versions = versions.filter { !$0.value.isRemoval || $0.value.lamport >= lamport }
    }
}

extension AppVersionStore {
    /// For the data directory: `{"apps": [{"app", "generation", "lamport", "spec", "previous"}]}`, Lamport times as
    /// strings (JSON numbers lose precision past 2^53).
    public var json: JSON {
        .object([("apps", .array(versions.values.sorted { $0.app < $1.app }.map { v in
            var pairs: [(String, JSON)] = [
                ("app", .string(v.app)), ("generation", .number(Double(v.generation))),
                ("lamport", .string(String(v.lamport))), ("spec", .string(v.specHash)),
            ]
            if let previous = v.previousHash { pairs.append(("previous", .string(previous))) }
            return .object(pairs)
        }))])
    }

    /// Reads what ``json`` wrote; errors name `file` and the entry.
    public init(json: JSON, file: String) throws(AppSpecError) {
        guard let entries = json["apps"]?.arrayValue else { throw AppSpecError("\(file): apps: expected an array of versions") }
        for (i, entry) in entries.enumerated() {
            let key = "\(file): apps[\(i)]"
            guard let app = entry["app"]?.stringValue, AppSpec.validName(app) else { throw AppSpecError("\(key).app: expected an app name") }
            guard let generation = entry["generation"]?.intValue, generation >= 0 else {
                throw AppSpecError("\(key).generation: expected a whole number")
            }
            guard let lamport = entry["lamport"]?.stringValue.flatMap({ UInt64($0) }) else {
                throw AppSpecError("\(key).lamport: expected a Lamport time as a decimal string")
            }
            guard let spec = entry["spec"]?.stringValue else { throw AppSpecError("\(key).spec: expected a spec hash") }
            let previous = entry["previous"]?.stringValue
            _ = offer(AppVersion(app: app, generation: generation, lamport: lamport, specHash: spec, previousHash: previous))
        }
    }
}
