// swift-ras-fuzz: the libFuzzer driver (built with -DFUZZING and --sanitize fuzzer), or,
// in a normal build, a replayer of saved inputs through the same targets.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzTargets

#if FUZZING
/// Writes `text` and a newline to standard error (unbuffered, before an abort).
func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// The target named by `SWIFT_RAS_FUZZ_TARGET`, read once.
let selectedTarget: FuzzTarget = {
    let name = getenv("SWIFT_RAS_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        printError("swift-ras-fuzz: set SWIFT_RAS_FUZZ_TARGET to one of: \(names)")
        exit(2)
    }
    return target
}()

/// libFuzzer's entry: runs one input; a property violation aborts, so libFuzzer saves it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let violations = selectedTarget.run(input)
    if !violations.isEmpty {
        for violation in violations { printError("swift-ras-fuzz \(selectedTarget.rawValue): \(violation)") }
        abort()
    }
    return 0
}
#else
/// `swift-ras-fuzz <target> <file or folder>…`: replays saved inputs through a target and
/// prints every violation; exits 1 if there was one.
@main
struct FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: swift-ras-fuzz <\(names)> <file or folder>…")
            print("(build with --sanitize fuzzer -Xswiftc -DFUZZING for the libFuzzer driver; see scripts/fuzz.sh)")
            exit(2)
        }
        var failed = false
        var count = 0
        for path in arguments.dropFirst() {
            for file in FuzzCorpus.files(at: path) {
                guard let input = FuzzCorpus.read(file) else {
                    print("\(file): cannot read")
                    failed = true
                    continue
                }
                count += 1
                for violation in target.run(input) {
                    print("\(file): \(violation)")
                    failed = true
                }
            }
        }
        print("\(target.rawValue): \(count) inputs replayed, \(failed ? "FAILED" : "no violation")")
        exit(failed ? 1 : 0)
    }
}
#endif
