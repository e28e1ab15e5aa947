#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FuzzTargets
import Testing

/// The libFuzzer driver, built once per test run into its own scratch path (`.build-fuzz`,
/// so it does not contend with the `swift test` that runs this), with the same command as
/// `scripts/fuzz.sh` and `.ci/run`. `swift build` is incremental: when `.ci/run` built it
/// already, this takes a couple of seconds.
enum FuzzerBuild {
    static let scratch = FuzzFixtures.root.appendingPathComponent(".build-fuzz")
    static let binary = scratch.appendingPathComponent("debug/swift-ras-fuzz").path

    /// The libFuzzer runtime of the toolchain running `swift` (from `PATH`), or why none.
    static let runtime: Result<String, FuzzerUnavailable> = {
        #if os(Linux)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        for folder in path.split(separator: ":") {
            let swift = URL(fileURLWithPath: String(folder)).appendingPathComponent("swift")
            guard FileManager.default.isExecutableFile(atPath: swift.path) else { continue }
            let usr = swift.resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            let clang = usr.appendingPathComponent("lib/clang")
            for version in (try? FileManager.default.contentsOfDirectory(atPath: clang.path)) ?? [] {
                let library = clang.appendingPathComponent("\(version)/lib/linux/libclang_rt.fuzzer-x86_64.a").path
                let arm = clang.appendingPathComponent("\(version)/lib/linux/libclang_rt.fuzzer-aarch64.a").path
                for candidate in [library, arm] where FileManager.default.fileExists(atPath: candidate) {
                    return .success(candidate)
                }
            }
            return .failure(FuzzerUnavailable(reason: "the toolchain at \(usr.path) has no libFuzzer runtime (libclang_rt.fuzzer)"))
        }
        return .failure(FuzzerUnavailable(reason: "no swift in PATH"))
        #else
        return .failure(FuzzerUnavailable(reason: "libFuzzer with Swift is set up for Linux only"))
        #endif
    }()

    static var isAvailable: Bool {
        if case .success = runtime { return true }
        if case .failure(let why) = runtime { print("short fuzz runs skipped: \(why.reason)") }
        return false
    }

    /// Builds (or brings up to date) the driver once; the build's output when it failed.
    static let built: Result<String, FuzzerUnavailable> = {
        let arguments = ["swift", "build", "--product", "swift-ras-fuzz", "-c", "debug", "--sanitize", "fuzzer",
                         "--sanitize", "address", "-Xswiftc", "-DFUZZING", "--scratch-path", scratch.path]
        print("building the fuzzer: \(arguments.joined(separator: " "))")
        let start = ContinuousClock.now
        let result = run(arguments, in: FuzzFixtures.root.path, environment: [:])
        let seconds = (ContinuousClock.now - start).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))
        guard result.status == 0, FileManager.default.isExecutableFile(atPath: binary) else {
            print("fuzzer build failed after \(seconds)")
            return .failure(FuzzerUnavailable(reason: "swift build exited \(result.status):\n\(result.output.suffix(4000))"))
        }
        print("fuzzer built (or up to date) in \(seconds)")
        return .success(binary)
    }()

    /// Runs `arguments` (through env(1), with `environment` added) in `folder` and waits;
    /// stdout and stderr go to a temporary file, returned as the output. posix_spawn and
    /// waitpid, not Foundation's Process, whose exit monitor missed a libFuzzer child's exit
    /// here (the test waited forever on a zombie).
    static func run(_ arguments: [String], in folder: String, environment: [String: String]) -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("swift-ras-fuzz-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let script = #"cd "$1" || exit 126; log=$2; shift 2; exec "$@" >"$log" 2>&1"#
        let argv = ["/bin/sh", "-c", script, "sh", folder, log, "/usr/bin/env"]
            + environment.map { "\($0.key)=\($0.value)" } + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &cArguments, environ)
        guard spawned == 0 else { return (-1, "posix_spawn /bin/sh failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS; a signal counts as 128 + its number.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, output)
    }
}

struct FuzzerUnavailable: Error {
    let reason: String
}

/// A short deterministic libFuzzer run of every target (fixed seed and run count), on a
/// copy of its corpus in a temporary folder: it must end without a crash or violation.
@Suite("Short fuzz runs", .enabled(if: FuzzerBuild.isAvailable, "skipped: no libFuzzer runtime in this toolchain"))
struct ShortFuzzRunTests {
    /// Executions per target, with inputs up to 1 KiB: a few seconds each in the debug ASan
    /// build on this 2-core machine (DESIGN.md, "Fuzzing"); the long runs are
    /// scripts/fuzz.sh's.
    static func runs(_ target: FuzzTarget) -> Int {
        switch target {
        case .hayes, .wire: 10_000
        case .callerID, .phonebook, .telnet: 20_000
        case .dialString: 50_000
        }
    }

    @Test("libFuzzer, seed 1", arguments: FuzzTarget.allCases)
    func shortRun(target: FuzzTarget) throws {
        let fuzzer: String
        switch FuzzerBuild.built {
        case .success(let path): fuzzer = path
        case .failure(let why): Issue.record("the fuzzer did not build: \(why.reason)"); return
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("swift-ras-fuzz-\(target.rawValue)-\(UUID().uuidString.prefix(8))")
        let corpus = work.appendingPathComponent("corpus")
        let artifacts = work.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        for file in FuzzCorpus.files(at: FuzzFixtures.folder(target)) {
            try FileManager.default.copyItem(atPath: file, toPath: corpus.appendingPathComponent(URL(fileURLWithPath: file).lastPathComponent).path)
        }
        let runs = Self.runs(target)
        let start = ContinuousClock.now
        let dictionary = FuzzFixtures.root.appendingPathComponent("Fuzz/Dictionaries/\(target.rawValue).dict").path
        let dictionaryOption = FileManager.default.fileExists(atPath: dictionary) ? ["-dict=\(dictionary)"] : []
        let result = FuzzerBuild.run(
            [fuzzer, "-seed=1", "-runs=\(runs)", "-print_final_stats=1", "-timeout=30", "-max_len=1024"] + dictionaryOption
                + ["-artifact_prefix=\(artifacts.path)/", corpus.path],
            in: work.path, environment: ["SWIFT_RAS_FUZZ_TARGET": target.rawValue, "SWIFT_BACKTRACE": "enable=no"])
        let elapsed = ContinuousClock.now - start
        let executions = result.output.split(separator: "\n")
            .last { $0.hasPrefix("stat::number_of_executed_units:") }
            .map { $0.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "?"
        print("fuzz \(target.rawValue): \(executions) executions in \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))), exit \(result.status)")
        let saved = (try? FileManager.default.contentsOfDirectory(atPath: artifacts.path)) ?? []
        if result.status == 0 { try? FileManager.default.removeItem(at: work) }
        #expect(result.status == 0, """
            libFuzzer found a crash or violation in \(target.rawValue); the input is kept in \
            \(artifacts.path) \(saved) (README, "Fuzzing": add it as a regression). Output:
            \(result.output.split(separator: "\n").suffix(30).joined(separator: "\n"))
            """)
        #expect(executions == String(runs), "expected \(runs) executions")
    }
}
