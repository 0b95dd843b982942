import RumorApps
import Testing

/// `apps_allow` (docs/apps-authority.md#worker-policy): nothing privileged by default, prefixes by whole path
/// components, and the first broken rule named.
@Suite struct AppPolicyTests {
    func spec(_ change: (inout AppSpec) -> Void) -> AppSpec {
        var s = AppSpec(name: "site", image: "rumor-site:v1")
        change(&s)
        return s
    }

    @Test func byDefault_aPlainSpecPasses_andEveryHostPowerIsRefused() {
        let none = AppPolicy()
        #expect(none.refusal(of: spec { $0.volumes = ["data:/data"]; $0.networks = ["bridge"] }) == nil, "named volume, a network")
        #expect(none.refusal(of: spec { $0.privileged = true })?.rule == .privileged)
        #expect(none.refusal(of: spec { $0.devices = ["/dev/fuse:/dev/fuse"] })?.rule == .devices)
        #expect(none.refusal(of: spec { $0.networks = ["host"] })?.rule == .hostNetwork)
        #expect(none.refusal(of: spec { $0.networks = ["container:abc"] })?.rule == .hostNetwork)
        #expect(none.refusal(of: spec { $0.volumes = ["/etc:/hostetc"] })?.rule == .volumes)
        let refusal = none.refusal(of: spec { $0.volumes = ["/etc:/hostetc"] })
        #expect(refusal?.description.contains("apps_allow (volumes)") == true && refusal?.description.contains("/etc") == true)
    }

    @Test func hostPaths_areAllowedUnderAPrefix_byWholeComponents_neverWithDotDot() {
        var p = AppPolicy()
        p.volumes = ["/srv/data"]
        #expect(p.refusal(of: spec { $0.volumes = ["/srv/data:/d", "/srv/data/x:/x:ro"] }) == nil)
        #expect(p.refusal(of: spec { $0.volumes = ["/srv/database:/d"] })?.rule == .volumes, "a longer name is not below it")
        #expect(p.refusal(of: spec { $0.volumes = ["/srv/data/../../etc:/d"] })?.rule == .volumes)
        #expect(p.refusal(of: spec { $0.volumes = ["/srv:/d"] })?.rule == .volumes, "above the prefix")
        p.devices = ["/dev/fuse"]
        #expect(p.refusal(of: spec { $0.devices = ["/dev/fuse"] }) == nil)
        #expect(p.refusal(of: spec { $0.devices = ["/dev/sda:/dev/sda"] })?.rule == .devices)
    }

    @Test func images_mustMatchAPattern_whenAnyIsGiven_andTheRestOnlyWhenAllowed() throws {
        var p = AppPolicy()
        p.images = ["^rumor-site:", "^registry\\.local/"]
        #expect(p.refusal(of: spec { _ in }) == nil)
        #expect(p.refusal(of: spec { $0.image = "registry.local/app:1" }) == nil)
        #expect(p.refusal(of: spec { $0.image = "evil/rumor-site:v1" })?.rule == .images)
        p.privileged = true
        p.hostNetwork = true
        #expect(p.refusal(of: spec { $0.privileged = true; $0.networks = ["host"] }) == nil)
        #expect(throws: AppPolicyError.self) { var bad = AppPolicy(); bad.images = ["(unclosed"]; try bad.validate() }
        #expect(throws: AppPolicyError.self) { var bad = AppPolicy(); bad.volumes = ["relative/path"]; try bad.validate() }
    }

    @Test func theRunTag_carriesARefusalsRule_andOlderValuesStillParse() {
        let value = RunTag.value(templateHash: "abc", state: .refused, rule: "privileged")
        #expect(value == "abc x privileged")
        #expect(RunTag.parse(value).map { "\($0.templateHash) \($0.state) \($0.rule)" } == "abc refused privileged")
        #expect(RunTag.parse("abc 1").map(\.state) == .converged)
        #expect(RunTag.parse("abc 1 privileged") == nil && RunTag.parse("abc x") == nil)
    }
}
