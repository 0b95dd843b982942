import RumorCore
@testable import RumorRuntime
import Testing

@Suite struct WarningLimiterTests {
    @Test func variedNames_shareOneKind_andAreRateLimited() {
        var limiter = WarningLimiter()
        let t = Instant.zero
        var logged = 0
        for i in 0..<1000 {
            if limiter.admit("got ping for unexpected node 'n\(i)x' from 127.0.0.\(i % 250):7946", at: t) != nil { logged += 1 }
        }
        #expect(logged == 1)
        let next = limiter.admit("got ping for unexpected node 'zz' from 10.0.0.1:1", at: t + .seconds(6))
        #expect(next?.hasSuffix("(999 similar suppressed)") == true)
    }

    @Test func manyKinds_areCappedTogether() {
        var limiter = WarningLimiter()
        var logged = 0
        for i in 0..<500 {
            // Distinct fixed wordings, as if an attacker found many different code paths.
            let word = String(repeating: "x", count: i % 60 + 1)
            if limiter.admit("problem \(word) here", at: .zero) != nil { logged += 1 }
        }
        #expect(logged == limiter.burst)
    }

    @Test func controlCharacters_areEscaped() {
        var limiter = WarningLimiter()
        let line = limiter.admit("bad name 'a\nb'", at: .zero)
        #expect(line == "bad name 'a\\x0ab'")
    }
}
