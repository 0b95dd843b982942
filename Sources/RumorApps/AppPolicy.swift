/// What this worker lets a spec from the cluster ask of its host (`apps_allow`, the node's own config), checked
/// before any container is made: membership, even a trusted deploy key, is not the right to mount the host's /etc.
/// Nomad's Docker driver and its `allow_privileged` / host-volume settings are the model. Specs in the node's own
/// apps directory are the root user's files and are not checked (docs/apps-authority.md#worker-policy).
public struct AppPolicy: Sendable, Equatable {
    public var privileged = false
    /// Host device paths (prefixes) a spec may map.
    public var devices: [String] = []
    /// Host networking (`networks: ["host"]`, or another container's namespace, `container:...`).
    public var hostNetwork = false
    /// Host path prefixes a bind mount may come from; named volumes are always allowed.
    public var volumes: [String] = []
    /// Regular expressions an image must match (Serf's filter semantics: a match anywhere); empty: any image.
    public var images: [String] = []

    public init() {}

    /// Why a spec is refused: the rule (a word the run tag carries) and a sentence for the operator.
    public struct Refusal: Sendable, Equatable, CustomStringConvertible {
        public var rule: Rule
        public var detail: String
        public var description: String { "refused by this worker's apps_allow (\(rule.rawValue)): \(detail)" }
    }

    public enum Rule: String, Sendable, CaseIterable {
        case privileged, devices, volumes, images
        case hostNetwork = "host_network"
    }

    /// The first rule the spec breaks, or nil.
    public func refusal(of spec: AppSpec) -> Refusal? {
        if spec.privileged, !privileged {
            return Refusal(rule: .privileged, detail: "the spec asks for a privileged container; allow it with \"apps_allow\": {\"privileged\": true}")
        }
        for device in spec.devices {
            let path = String(device.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if !Self.isUnder(path, anyOf: devices) {
                return Refusal(rule: .devices, detail: "device '\(path)' is not under an allowed prefix (\(Self.list(devices)))")
            }
        }
        for network in spec.networks where network == "host" || network.hasPrefix("container:") {
            if !hostNetwork {
                return Refusal(rule: .hostNetwork, detail: "network '\(network)' shares a host's or container's network namespace; allow it with \"host_network\": true")
            }
        }
        for volume in spec.volumes {
            let source = String(volume.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            guard source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~") else { continue }  // a named volume
            if !Self.isUnder(source, anyOf: volumes) {
                return Refusal(rule: .volumes, detail: "host path '\(source)' is not under an allowed prefix (\(Self.list(volumes)))")
            }
        }
        if !images.isEmpty, !images.contains(where: { pattern in (try? Regex(pattern)).map { spec.image.contains($0) } ?? false }) {
            return Refusal(rule: .images, detail: "image '\(spec.image)' matches none of \(images.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return nil
    }

    /// `path` is one of `prefixes` or below one, by whole components; a path with `..`, or not absolute, never is.
    static func isUnder(_ path: String, anyOf prefixes: [String]) -> Bool {
        let parts = path.split(separator: "/")
        guard path.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0 == "." }) else { return false }
        return prefixes.contains { prefix in
            let p = prefix.split(separator: "/")
            return prefix.hasPrefix("/") && parts.count >= p.count && Array(parts.prefix(p.count)) == p
        }
    }

    private static func list(_ prefixes: [String]) -> String {
        prefixes.isEmpty ? "none allowed" : "allowed: " + prefixes.joined(separator: ", ")
    }

    /// Checks the policy's own values (config and flags): prefixes absolute, patterns compile.
    public func validate() throws(AppPolicyError) {
        for p in volumes + devices where !p.hasPrefix("/") || p.split(separator: "/").contains("..") {
            throw AppPolicyError("'\(p)' is not an absolute path without '..'")
        }
        for pattern in images {
            do { _ = try Regex(pattern) } catch { throw AppPolicyError("image pattern '\(pattern)' does not compile: \(error)") }
        }
    }
}

public struct AppPolicyError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
