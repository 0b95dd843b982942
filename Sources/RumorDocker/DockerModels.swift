import RumorSupport

/// A row of `GET /containers/json`.
public struct ContainerSummary: Sendable, Equatable {
    public var id: String
    /// Without Docker's leading slash.
    public var name: String
    public var image: String
    public var labels: [String: String]
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`; kept as text so a new one
    /// reads as "not running" instead of failing the whole list.
    public var state: String

    public init(id: String, name: String, image: String, labels: [String: String], state: String) {
        (self.id, self.name, self.image, self.labels, self.state) = (id, name, image, labels, state)
    }

    init(json: JSON) throws {
        guard let id = json["Id"]?.stringValue else { throw DockerError(.protocolError, "container list entry without Id") }
        self.id = id
        let name = json["Names"]?.arrayValue?.first?.stringValue ?? id
        self.name = name.hasPrefix("/") ? String(name.dropFirst()) : name
        image = json["Image"]?.stringValue ?? ""
        labels = json["Labels"]?.stringMapValue ?? [:]
        state = json["State"]?.stringValue ?? "unknown"
    }
}

/// What `GET /containers/{id}/json` says about a container that reconciling needs.
public struct ContainerDetails: Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var labels: [String: String]
    public var status: String
    public var running: Bool
    public var exitCode: Int
    /// Docker's reason when it could not start the container ("port is already allocated").
    public var error: String
    /// `starting`, `healthy`, `unhealthy`; nil without a health check.
    public var health: String?
    /// The health check's interval (the container's own, or its image's; Docker's default 30 s when unset).
    public var healthInterval: Duration?
    public var startedAt: DockerTimestamp?
    public var finishedAt: DockerTimestamp?
    /// Network name → container address on it.
    public var addresses: [String: String]

    public init(id: String, name: String, image: String, labels: [String: String], status: String, running: Bool,
                exitCode: Int = 0, error: String = "", health: String? = nil, startedAt: DockerTimestamp? = nil,
                finishedAt: DockerTimestamp? = nil, addresses: [String: String] = [:]) {
        (self.id, self.name, self.image, self.labels, self.status, self.running) = (id, name, image, labels, status, running)
        (self.exitCode, self.error, self.health) = (exitCode, error, health)
        (self.startedAt, self.finishedAt, self.addresses) = (startedAt, finishedAt, addresses)
    }

    init(json: JSON) throws {
        guard let id = json["Id"]?.stringValue else { throw DockerError(.protocolError, "container inspect without Id") }
        self.id = id
        let name = json["Name"]?.stringValue ?? id
        self.name = name.hasPrefix("/") ? String(name.dropFirst()) : name
        image = json["Config"]?["Image"]?.stringValue ?? ""
        labels = json["Config"]?["Labels"]?.stringMapValue ?? [:]
        let state = json["State"]
        status = state?["Status"]?.stringValue ?? "unknown"
        running = state?["Running"]?.boolValue ?? false
        exitCode = state?["ExitCode"]?.intValue ?? 0
        error = state?["Error"]?.stringValue ?? ""
        health = state?["Health"]?["Status"]?.stringValue
        if let check = json["Config"]?["Healthcheck"], check["Test"]?.arrayValue?.first?.stringValue != "NONE" {
            let ns = check["Interval"]?.intValue ?? 0
            healthInterval = ns > 0 ? .nanoseconds(ns) : .seconds(30)
        }
        startedAt = state?["StartedAt"]?.stringValue.flatMap(DockerTimestamp.init)
        finishedAt = state?["FinishedAt"]?.stringValue.flatMap(DockerTimestamp.init)
        var addresses: [String: String] = [:]
        for (network, settings) in json["NetworkSettings"]?["Networks"]?.objectValue ?? [] {
            if let ip = settings["IPAddress"]?.stringValue, !ip.isEmpty { addresses[network] = ip }
        }
        self.addresses = addresses
    }
}

/// One line of `GET /events` about a container.
public struct DockerEvent: Sendable, Equatable {
    /// `start`, `die`, `destroy`, `health_status: healthy`, `oom`, ...
    public var action: String
    public var containerID: String
    public var attributes: [String: String]

    public init(action: String, containerID: String, attributes: [String: String]) {
        (self.action, self.containerID, self.attributes) = (action, containerID, attributes)
    }

    public init?(json: JSON) {
        guard json["Type"]?.stringValue == "container", let action = json["Action"]?.stringValue,
              let id = json["Actor"]?["ID"]?.stringValue ?? json["id"]?.stringValue else { return nil }
        self.action = action
        containerID = id
        attributes = json["Actor"]?["Attributes"]?.stringMapValue ?? [:]
    }
}

/// Docker's RFC 3339 times with nanoseconds ("2026-12-03T10:00:00.123456789Z"); Docker writes
/// `0001-01-01T00:00:00Z` for never, which reads as nil.
public struct DockerTimestamp: Sendable, Equatable, Comparable {
    /// Seconds since the Unix epoch.
    public var seconds: Int64
    public var nanoseconds: Int32

    public init?(_ text: String) {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= b.count else { return nil }
            var n: Int64 = 0
            for c in b[range] {
                guard c >= 48, c <= 57 else { return nil }
                n = n * 10 + Int64(c - 48)
            }
            return n
        }
        guard b.count >= 20, let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), year > 1 else { return nil }
        var i = 19, nanos: Int64 = 0, digits = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        var offset: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let h = number(i + 1..<i + 3),
           let m = number(i + 4..<i + 6) {
            offset = (h * 3600 + m * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400, yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        nanoseconds = Int32(nanos)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
}
