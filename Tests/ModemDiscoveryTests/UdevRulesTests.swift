import Foundation
import TestSupport
import Testing

/// `udev/60-swift-ras.rules`, checked with `udevadm test` — systemd 252 (Debian 12) has no
/// `udevadm verify`, and `udevadm test` reads rules only from the system's rules folders.
/// So the rules are bind-mounted over `/etc/udev/rules.d` in a private mount namespace
/// (`unshare -rm`, no root needed), `/dev` and `/run` are private too (udevadm test writes
/// links and its database there), and `udevadm test` runs under `umockdev-run` against the
/// fixture devices stripped of what our rules set. It must set exactly what the fixtures
/// record, and report no problem with our files.
@Suite(
    "udev rules", .serialized,
    .enabled(if: which("udevadm") != nil, "udevadm is not installed (apt package udev): the udev rules are not checked"))
struct UdevRulesTests {
    static let rules = Harness.packageRoot.appendingPathComponent("udev/60-swift-ras.rules")
    static let localExample = Harness.packageRoot.appendingPathComponent("udev/59-swift-ras-local.rules.example")

    /// The keys our rules set, compared between the fixtures and udevadm's answer.
    static let ourKeys = [
        "ID_SWIFT_RAS_CANDIDATE", "ID_SWIFT_RAS_IGNORE", "ID_SWIFT_RAS_PORT_TYPE", "ID_SWIFT_RAS_NAME",
        "ID_SWIFT_RAS_PROBE_BAUD", "ID_MM_DEVICE_IGNORE",
    ]

    /// Sets up the private namespace, then runs the rest of the command line.
    static let namespaceScript = """
        set -e
        rules="$1"; shift
        old=$(mktemp -d)
        mount --rbind /dev "$old"
        mount -t tmpfs -o mode=755 tmpfs /dev
        for node in null zero full random urandom tty; do
            touch "/dev/$node"
            mount --bind "$old/$node" "/dev/$node"
        done
        mkdir /dev/pts
        mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
        ln -s pts/ptmx /dev/ptmx
        mount -t tmpfs tmpfs /run
        mount --bind "$rules" /etc/udev/rules.d
        exec "$@"
        """

    /// What `udevadm test` said about one device.
    struct Run {
        var output: String
        /// The device's properties after the rules ran.
        var properties: [String: String]
        /// Complaints about our rules files while they were parsed.
        var problems: [String]
    }

    /// Runs `udevadm test --action=add` for each tty in `devices` with `rulesFiles` as the
    /// only rules in /etc/udev/rules.d, on the given fixtures stripped of what rules set.
    static func udevadmTest(
        rulesFiles: [String: String], fixtures: [String], devices: [String]
    ) async throws -> [String: Run] {
        let work = try TestSupport.temporaryDirectory("udev-rules")
        defer { TestSupport.remove(work) }
        let rulesFolder = work.appendingPathComponent("rules.d")
        try FileManager.default.createDirectory(at: rulesFolder, withIntermediateDirectories: true)
        for (name, text) in rulesFiles {
            try text.write(to: rulesFolder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var deviceArguments: [String] = []
        for fixture in fixtures {
            let stripped = try String(contentsOfFile: fixture, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
                .filter { line in
                    !(ourKeys.map { "E: \($0)=" } + ["E: DEVLINKS=", "E: TAGS=", "E: CURRENT_TAGS="]).contains { line.hasPrefix($0) }
                }
                .joined(separator: "\n")
            let copy = work.appendingPathComponent((fixture as NSString).lastPathComponent)
            try stripped.write(to: copy, atomically: true, encoding: .utf8)
            deviceArguments += ["-d", copy.path]
        }
        let script = work.appendingPathComponent("namespace.sh")
        try namespaceScript.write(to: script, atomically: true, encoding: .utf8)
        guard let unshare = which("unshare"), let umockdevRun = which("umockdev-run") else {
            throw Harness.Failure(description: "unshare (util-linux) and umockdev-run (umockdev) are needed to run udevadm test")
        }
        let marker = "@@@ swift-ras udevadm test of "
        let loop = #"for d in "$@"; do echo "\#(marker)$d"; udevadm test --action=add "/sys/class/tty/$d" 2>&1; done"#
        let output: Data
        do {
            output = try await runProcess(
                unshare, ["-rm", "sh", script.path, rulesFolder.path, umockdevRun] + deviceArguments
                    + ["--", "sh", "-c", loop, "sh"] + devices,
                timeout: .seconds(120))
        } catch {
            throw Harness.Failure(description: "udevadm test needs a private user and mount namespace (unshare -rm): \(error)")
        }
        var runs: [String: Run] = [:]
        for section in String(decoding: output, as: UTF8.self).components(separatedBy: marker).dropFirst() {
            let lines = section.split(separator: "\n").map(String.init)
            guard let device = lines.first else { continue }
            var properties: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let equals = line.firstIndex(of: "="), equals != line.startIndex,
                      line[..<equals].allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" || $0 == "." }) else { continue }
                properties[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            let problems = lines.filter { line in
                rulesFiles.keys.contains { line.hasPrefix("/etc/udev/rules.d/\($0):") }
            }
            runs[device] = Run(output: section, properties: properties, problems: problems)
        }
        return runs
    }

    static func fixtureProperties(_ fixture: String) throws -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var current: String?
        for line in try String(contentsOfFile: fixture, encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("P: ") {
                current = line.split(separator: "/").last.map(String.init)
            } else if line.hasPrefix("E: "), let current, let equals = line.firstIndex(of: "=") {
                result[current, default: [:]][String(line.dropFirst(3)[..<equals])] = String(line[line.index(after: equals)...])
            }
        }
        return result
    }

    @Test("the rules parse cleanly and set on the fixture devices what the fixtures record")
    func rulesMatchFixtures() async throws {
        let fixtures = Harness.allFixtures.filter { !$0.hasSuffix("virtual-ttys.umockdev") }
        let devices = ["ttyACM0", "ttyACM1", "ttyS0", "ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB3", "ttyUSB4", "ttyUSB5"]
        let runs = try await Self.udevadmTest(
            rulesFiles: [
                "60-swift-ras.rules": try String(contentsOf: Self.rules, encoding: .utf8),
                "59-swift-ras-local.rules": try String(contentsOf: Self.localExample, encoding: .utf8),
            ],
            fixtures: fixtures, devices: devices)
        var recorded: [String: [String: String]] = [:]
        for fixture in fixtures { recorded.merge(try Self.fixtureProperties(fixture)) { $1 } }

        #expect(Set(runs.keys) == Set(devices))
        for device in devices {
            let run = try #require(runs[device])
            let expected = try #require(recorded[device])
            #expect(run.output.contains("Reading rules file: /etc/udev/rules.d/60-swift-ras.rules"))
            #expect(run.problems.isEmpty, "\(device): \(run.problems)")
            for key in Self.ourKeys {
                #expect(run.properties[key] == expected[key], "\(device) \(key)")
            }
            let modemLinks = { (links: String?) in
                Set((links ?? "").split(separator: " ").filter { $0.hasPrefix("/dev/modem/") })
            }
            #expect(modemLinks(run.properties["DEVLINKS"]) == modemLinks(expected["DEVLINKS"]), "\(device) /dev/modem link")
            let tagged = { (tags: String?) in (tags ?? "").split(separator: ":").contains("swift-ras") }
            #expect(tagged(run.properties["TAGS"]) == tagged(expected["TAGS"]), "\(device) swift-ras tag")
        }
        #expect(runs["ttyACM0"]?.properties["DEVLINKS"]?.contains("/dev/modem/U.S.Robotics_USB_Modem_0000001-if00") == true)
    }

    @Test("a broken rule is reported (the check can fail)")
    func brokenRuleIsCaught() async throws {
        let broken = try String(contentsOf: Self.rules, encoding: .utf8) + "\nKERNEL==\"ttyACM*\", ENVV{ID_SWIFT_RAS_CANDIDATE}=\"1\"\n"
        let runs = try await Self.udevadmTest(
            rulesFiles: ["60-swift-ras.rules": broken], fixtures: [Harness.fixture("usr5637-usb-modem.umockdev")],
            devices: ["ttyACM0"])
        let problems = try #require(runs["ttyACM0"]).problems
        #expect(problems.contains { $0.contains("ENVV") })
    }

    @Test("a site rule names a built-in port, which then is probed and linked as /dev/modem/<name>")
    func siteName() async throws {
        let site = #"SUBSYSTEM=="tty", KERNEL=="ttyS0", ENV{ID_SWIFT_RAS_CANDIDATE}="1", ENV{ID_SWIFT_RAS_NAME}="office-modem""#
        let runs = try await Self.udevadmTest(
            rulesFiles: [
                "60-swift-ras.rules": try String(contentsOf: Self.rules, encoding: .utf8),
                "59-swift-ras-local.rules": site + "\n",
            ],
            fixtures: [Harness.fixture("serial8250-ports.umockdev")], devices: ["ttyS0"])
        let run = try #require(runs["ttyS0"])
        #expect(run.problems.isEmpty)
        #expect(run.properties["ID_SWIFT_RAS_NAME"] == "office-modem")
        #expect(run.properties["ID_MM_DEVICE_IGNORE"] == "1")
        #expect(run.properties["DEVLINKS"]?.split(separator: " ").contains("/dev/modem/office-modem") == true)
    }
}
