/// Which nodes an app runs on: a node qualifies when, for every `placement` entry, it has that tag and the tag's
/// value contains a match of the regular expression (Serf's tag-filter semantics). Compiled once, asked per node.
public struct PlacementFilter {
    private let rules: [(tag: String, regex: Regex<AnyRegexOutput>?)]

    /// A pattern that does not compile matches no node (spec parsing already refuses such a spec).
    public init(_ placement: [String: String]) {
        rules = placement.sorted { $0.key < $1.key }.map { ($0.key, try? Regex($0.value)) }
    }

    public func matches(_ tags: [String: String]) -> Bool {
        rules.allSatisfy { rule in
            guard let value = tags[rule.tag], let regex = rule.regex else { return false }
            return value.contains(regex)
        }
    }
}

extension AppSpec {
    /// Whether a node with these tags runs this app.
    public func isPlaced(onNodeWithTags tags: [String: String]) -> Bool { PlacementFilter(placement).matches(tags) }
}
