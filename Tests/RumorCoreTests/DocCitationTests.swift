import Foundation
import Testing

/// Code cites the protocol notes as `docs/<file>.md#<anchor>`: every such citation, and every link between the
/// notes, must land on a heading that exists, so a renamed section cannot silently orphan the comments citing it.
@Suite struct DocCitationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered.
    static func anchors(ofMarkdown text: String) -> Set<String> {
        var seen: [String: Int] = [:]
        var out: Set<String> = []
        var inFence = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inFence.toggle() }
            guard !inFence, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            let slug = String(title.lowercased().compactMap { c -> Character? in
                if c == " " { return "-" }
                return c.isLetter || c.isNumber || c == "-" || c == "_" ? c : nil
            })
            let n = seen[slug, default: 0]
            seen[slug] = n + 1
            out.insert(n == 0 ? slug : "\(slug)-\(n)")
        }
        return out
    }

    static func files(under directory: String, extension ext: String) -> [String] {
        let base = root.appendingPathComponent(directory).path
        let all = FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String } ?? []
        return all.filter { $0.hasSuffix(".\(ext)") && !$0.hasPrefix(".build") }.map { "\(directory)/\($0)" }.sorted()
    }

    static var swiftFiles: [String] { files(under: "Sources", extension: "swift") + files(under: "Tests", extension: "swift") }

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func matches(of pattern: String, in text: String) throws -> [[String]] {
        let regex = try NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { m in
            (0..<m.numberOfRanges).map { i in
                m.range(at: i).location == NSNotFound ? "" : ns.substring(with: m.range(at: i))
            }
        }
    }

    @Test func everyCitationInTheCode_andEveryLinkBetweenTheNotes_resolves() throws {
        let docs = Self.files(under: "docs", extension: "md")
        #expect(!docs.isEmpty, "no notes under \(Self.root.path)/docs")
        var anchors: [String: Set<String>] = [:]
        for doc in docs { anchors[doc] = Self.anchors(ofMarkdown: try Self.read(doc)) }

        var broken: [String] = []
        func check(_ target: String, anchor: String, citedIn source: String) {
            guard let known = anchors[target] else { return broken.append("\(source): \(target) does not exist") }
            if !anchor.isEmpty && !known.contains(anchor) {
                broken.append("\(source): \(target)#\(anchor) has no such heading")
            }
        }
        var citations = 0
        for source in Self.swiftFiles {
            for m in try Self.matches(of: #"(docs/[A-Za-z0-9_-]+\.md)(?:#([a-z0-9_-]+))?"#, in: try Self.read(source)) {
                citations += 1
                check(m[1], anchor: m[2], citedIn: source)
            }
        }
        for doc in docs {
            for m in try Self.matches(of: #"\]\(([A-Za-z0-9_-]+\.md)?(?:#([a-z0-9_-]+))?\)"#, in: try Self.read(doc)) {
                check(m[1].isEmpty ? doc : "docs/\(m[1])", anchor: m[2], citedIn: doc)
            }
        }
        #expect(citations > 40, "found only \(citations) citations: is the scan looking in the right place?")
        #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
    }

    /// How the code used to cite a protocol document outside the repository, which a clone cannot follow: by
    /// section number, or by that document's file name. Spelled in pieces so this file does not match itself.
    static let outOfTreeCitations = ["doc " + "\u{A7}", "(" + "\u{A7}", "serf-wire-" + "protocol"]

    @Test func noCitationPointsOutsideTheRepository() throws {
        var stale: [String] = []
        for source in Self.swiftFiles {
            for (n, line) in try Self.read(source).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where Self.outOfTreeCitations.contains(where: { line.contains($0) }) {
                stale.append("\(source):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(stale.isEmpty, "\(stale.joined(separator: "\n"))")
    }
}
