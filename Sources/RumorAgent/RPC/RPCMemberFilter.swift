import RumorCore

/// The `members-filtered` filters: Go regexps that must match the whole value (`^(...)$`).
///
/// Matching runs on Unicode scalars with ASCII-only `\d \w \s \b` and POSIX classes, which is what Go's RE2 syntax
/// means. Swift's engine backtracks where RE2 does not, so a pathological pattern costs time; only an RPC client (who
/// can already make the agent leave) can send one, and the values matched are short.
struct RPCMemberFilter {
    /// An invalid pattern; the message names it, unlike Go's agent, which closes the connection silently.
    struct BadPattern: Error, CustomStringConvertible {
        var pattern: String
        var reason: String
        var description: String { "Failed to compile regex: invalid pattern '\(pattern)': \(reason)" }
    }

    private let name: Regex<AnyRegexOutput>?
    private let status: Regex<AnyRegexOutput>?
    private let tags: [(key: String, regex: Regex<AnyRegexOutput>)]

    init(_ request: RPCMembersFilteredRequest) throws(BadPattern) {
        // Empty Name/Status mean "no filter"; an empty tag pattern still demands the tag be empty or missing.
        name = request.name.isEmpty ? nil : try Self.compile(request.name)
        status = request.status.isEmpty ? nil : try Self.compile(request.status)
        var tags: [(key: String, regex: Regex<AnyRegexOutput>)] = []
        for key in request.tags.keys.sorted() { tags.append((key, try Self.compile(request.tags[key]!))) }
        self.tags = tags
    }

    func matches(_ m: Member) -> Bool {
        for (key, regex) in tags where !Self.wholeMatch(regex, m.tags[key] ?? "") { return false }
        if let status, !Self.wholeMatch(status, m.status.description) { return false }
        if let name, !Self.wholeMatch(name, m.name) { return false }
        return true
    }

    private static func compile(_ pattern: String) throws(BadPattern) -> Regex<AnyRegexOutput> {
        do {
            return try Regex(pattern).matchingSemantics(.unicodeScalar).asciiOnlyCharacterClasses()
        } catch {
            throw BadPattern(pattern: pattern, reason: "\(error)")
        }
    }

    /// A whole match is exactly `^(pattern)$`, without wrapping (which would let `a)|(b` compile).
    private static func wholeMatch(_ regex: Regex<AnyRegexOutput>, _ value: String) -> Bool {
        ((try? regex.wholeMatch(in: value)) ?? nil) != nil
    }
}
