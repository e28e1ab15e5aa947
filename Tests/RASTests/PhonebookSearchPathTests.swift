import Foundation
import Glibc
import Testing
import RAS
import SystemIO

@Suite("Phonebook search path")
struct PhonebookSearchPathTests {
    @Test func xdgConfigHomeWins() {
        let searchPath = PhonebookSearchPath(
            environment: ["XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"], fileExists: { _ in true })
        #expect(searchPath.userPhonebookPath == "/cfg/swift-ras/rasphone.pbk")
        #expect(searchPath.candidates.map(\.path) == ["/cfg/swift-ras/rasphone.pbk", "/etc/swift-ras/rasphone.pbk"])
        #expect(searchPath.candidates.map(\.scope) == [.user, .allUsers])
    }

    @Test("HOME fallback when XDG_CONFIG_HOME is unset, empty or relative", arguments: [nil, "", "relative/dir"])
    func homeFallback(xdg: String?) {
        var environment = ["HOME": "/home/u/"]
        environment["XDG_CONFIG_HOME"] = xdg
        let searchPath = PhonebookSearchPath(environment: environment, fileExists: { _ in false })
        #expect(searchPath.userPhonebookPath == "/home/u/.config/swift-ras/rasphone.pbk")
    }

    @Test func noHomeMeansSystemOnly() {
        let searchPath = PhonebookSearchPath(environment: [:], fileExists: { _ in true })
        #expect(searchPath.userPhonebookPath == nil)
        #expect(searchPath.candidates.map(\.path) == ["/etc/swift-ras/rasphone.pbk"])
    }

    @Test func existenceDecidesTheDefault() {
        let env = ["HOME": "/h"]
        let user = "/h/.config/swift-ras/rasphone.pbk"
        #expect(PhonebookSearchPath(environment: env, fileExists: { $0 == user }).defaultPhonebookPath == user)
        #expect(PhonebookSearchPath(environment: env, fileExists: { $0.hasPrefix("/etc") }).defaultPhonebookPath
            == "/etc/swift-ras/rasphone.pbk")
        #expect(PhonebookSearchPath(environment: env, fileExists: { _ in false }).defaultPhonebookPath == nil)
        #expect(PhonebookSearchPath(environment: env, fileExists: { _ in true }).existingPhonebooks.count == 2)
    }

    @Test func enumerateAndLocate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let user = try dir.write("home/.config/swift-ras/rasphone.pbk", "[Work]\nPhoneNumber=1\n[Mine]\nPhoneNumber=2\n")
        let system = try dir.write("etc/rasphone.pbk", "[work]\nPhoneNumber=3\n[Shared]\nPhoneNumber=4\n")
        let searchPath = PhonebookSearchPath(environment: ["HOME": dir.file("home")], systemPhonebookPath: system)
        #expect(searchPath.userPhonebookPath == user)

        #expect(try searchPath.enumerateEntries() == [
            RasEntryName(name: "Work", phonebookPath: user, scope: .user),
            RasEntryName(name: "Mine", phonebookPath: user, scope: .user),
            RasEntryName(name: "work", phonebookPath: system, scope: .allUsers),
            RasEntryName(name: "Shared", phonebookPath: system, scope: .allUsers),
        ])
        #expect(try searchPath.enumerateEntries(phonebookPath: system).map(\.name) == ["work", "Shared"])

        let work = try searchPath.locateEntry(named: "WORK")
        #expect(work.phonebookPath == user, "the user's phonebook comes first")
        #expect(work.entry.phoneNumber == "1")
        #expect(try searchPath.locateEntry(named: "shared").phonebookPath == system)
        #expect(try searchPath.locateEntry(named: "Work", phonebookPath: system).entry.phoneNumber == "3")

        #expect(throws: RasError.cannotFindPhonebookEntry) { try searchPath.locateEntry(named: "Nope") }
        do {
            _ = try searchPath.locateEntry(named: "Nope")
        } catch {
            #expect(error.detail?.contains(user) == true && error.detail?.contains(system) == true)
        }
    }

    @Test func noPhonebooksAtAll() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let searchPath = PhonebookSearchPath(environment: ["HOME": dir.path], systemPhonebookPath: dir.file("etc.pbk"))
        #expect(try searchPath.enumerateEntries().isEmpty)
        #expect(throws: RasError.cannotFindPhonebookEntry) { try searchPath.locateEntry(named: "Work") }
        #expect(throws: RasError.cannotOpenPhonebook) { try searchPath.enumerateEntries(phonebookPath: dir.file("x.pbk")) }
    }

    /// Good entries around every kind of bad line.
    static let mixed = """
        ; a comment
        Port=/dev/ttyS9
        [Good1]
        PhoneNumber=1
        [Bad]
        PhoneNumber=2
        RedialAttempts=three
        InitString=ATDT19005551234
        [Broken
        PhoneNumber=3
        [Good2]
        PhoneNumber=4
        [Twice]
        PhoneNumber=5
        [twice]
        PhoneNumber=6
        [Good3]
        PhoneNumber=7

        """

    @Test("a corrupt entry is reported with its lines; the other entries are listed and can be dialed")
    func corruptEntriesAreReportedNotFatal() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let system = try dir.write("etc.pbk", Self.mixed)
        let searchPath = PhonebookSearchPath(environment: [:], systemPhonebookPath: system)
        let listing = try searchPath.entryListing()
        #expect(listing.entries.map(\.name) == ["Good1", "Good2", "Good3"])
        #expect(listing.entries.allSatisfy { $0.phonebookPath == system && $0.scope == .allUsers })
        #expect(listing.problems.map(\.line) == [2, 7, 8, 9, 15])
        #expect(listing.problems.map(\.name) == [nil, "Bad", "Bad", "Broken", "twice"])
        #expect(listing.problems.allSatisfy { $0.error == .corruptPhonebook && $0.phonebookPath == system })
        #expect(listing.problems[1].error.detail == "\(system), line 7: entry 'Bad': 'RedialAttempts' must be a number, not 'three'")
        #expect(listing.problems[2].error.detail?.hasPrefix("\(system), line 8: entry 'Bad': InitString 'ATDT19005551234': the D command") == true)
        #expect(listing.problems[4].error.detail == "\(system), line 15: duplicate entry 'twice' (first defined on line 13)")
        #expect(try searchPath.enumerateEntries().map(\.name) == ["Good1", "Good2", "Good3"])
        #expect(try searchPath.enumerateEntries(phonebookPath: system).map(\.name) == ["Good1", "Good2", "Good3"])

        // Dialing looks past the bad entries; a bad one is refused with its first problem.
        #expect(try searchPath.locateEntry(named: "good2").entry.phoneNumber == "4")
        #expect(try searchPath.locateEntry(named: "Good3").entry.phoneNumber == "7")
        for (name, line) in [("bad", 7), ("Broken", 9), ("TWICE", 15)] {
            do {
                _ = try searchPath.locateEntry(named: name)
                Issue.record("\(name) was found")
            } catch {
                #expect(error == .corruptPhonebook)
                #expect(error.detail?.hasPrefix("\(system), line \(line): ") == true, "\(name): \(String(describing: error.detail))")
            }
        }
        // The strict reader (for rewriting the file) still refuses the file at its first bad line.
        #expect(throws: RasError.corruptPhonebook) { try Phonebook.load(from: system) }
    }

    @Test("a default phonebook that cannot be read is reported; the other one is listed")
    func unreadableDefaultPhonebook() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let user = dir.file("home/.config/swift-ras/rasphone.pbk")
        try FileManager.default.createDirectory(atPath: (user as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try #require("[Mine]\r\nPhoneNumber=1\r\n".data(using: .utf16)).write(to: URL(fileURLWithPath: user))
        let system = try dir.write("etc.pbk", "[Shared]\nPhoneNumber=2\n")
        let searchPath = PhonebookSearchPath(environment: ["HOME": dir.file("home")], systemPhonebookPath: system)
        let listing = try searchPath.entryListing()
        #expect(listing.entries == [RasEntryName(name: "Shared", phonebookPath: system, scope: .allUsers)])
        #expect(listing.problems == [RasPhonebookProblem(phonebookPath: user, line: nil, name: nil, error: .cannotLoadPhonebook)])
        // Named explicitly, a file that cannot be read is an error: there is nothing to list.
        #expect(throws: RasError.cannotLoadPhonebook) { try searchPath.entryListing(phonebookPath: user) }
        #expect(throws: RasError.cannotOpenPhonebook) { try searchPath.entryListing(phonebookPath: dir.file("none.pbk")) }
        // Dialing does not skip a phonebook it cannot read: its entry might be the one meant.
        #expect(throws: RasError.cannotLoadPhonebook) { try searchPath.locateEntry(named: "Shared") }
    }

    @Test("the lenient reader reads like the strict one: regular files only, and only what the requester could read")
    func lenientReadingIsSafeFileReading() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let fifo = dir.file("rasphone.pbk")
        try #require(mkfifo(fifo, 0o666) == 0)
        let system = try dir.write("etc.pbk", "[Shared]\nPhoneNumber=2\n")
        // A FIFO named explicitly is 621 naming its type, never opened (an open would block).
        for attempt in [{ _ = try PhonebookSearchPath().entryListing(phonebookPath: fifo) },
                        { _ = try PhonebookSearchPath().locateEntry(named: "Work", phonebookPath: fifo) }] {
            do {
                try attempt()
                Issue.record("the FIFO was read")
            } catch let error as RasError {
                #expect(error == .cannotOpenPhonebook)
                #expect(error.detail?.contains("FIFO") == true, "\(String(describing: error.detail))")
            }
        }
        // A FIFO as a default phonebook is reported; the other one is listed.
        let searchPath = PhonebookSearchPath(environment: ["XDG_CONFIG_HOME": dir.file("cfg")], systemPhonebookPath: system)
        try FileManager.default.createDirectory(atPath: dir.file("cfg/swift-ras"), withIntermediateDirectories: true)
        try #require(mkfifo(dir.file("cfg/swift-ras/rasphone.pbk"), 0o666) == 0)
        let listing = try searchPath.entryListing()
        #expect(listing.entries.map(\.name) == ["Shared"])
        #expect(listing.problems.map(\.error) == [.cannotOpenPhonebook])

        // A file the requester may not read is 621 for it, and read for the process itself.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: system)
        let nobody = PeerCredentials(pid: 1, uid: 65534, gid: 65534)
        #expect(try searchPath.entryListing(phonebookPath: system).entries.map(\.name) == ["Shared"])
        for attempt in [{ _ = try searchPath.entryListing(phonebookPath: system, requester: nobody) },
                        { _ = try searchPath.enumerateEntries(phonebookPath: system, requester: nobody) },
                        { _ = try searchPath.locateEntry(named: "Shared", phonebookPath: system, requester: nobody) }] {
            do {
                try attempt()
                Issue.record("uid 65534 read a file it may not read")
            } catch let error as RasError {
                #expect(error == .cannotOpenPhonebook)
                #expect(error.detail?.contains("permission denied") == true, "\(String(describing: error.detail))")
            }
        }
    }

    @Test func problemCodable() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let problem = RasPhonebookProblem(phonebookPath: "/p.pbk", line: 7, name: "Work",
                                          error: RasError.corruptPhonebook.with(detail: "/p.pbk, line 7: x"))
        let json = String(decoding: try encoder.encode(problem), as: UTF8.self)
        #expect(json == #"{"error":{"code":625,"detail":"\/p.pbk, line 7: x","message":"The phonebook file is corrupt.","name":"ERROR_CORRUPT_PHONEBOOK"},"line":7,"name":"Work","phonebookPath":"\/p.pbk"}"#)
        let decoded = try JSONDecoder().decode(RasPhonebookProblem.self, from: Data(json.utf8))
        #expect(decoded == problem && decoded.error.detail == problem.error.detail)
    }

    @Test func entryNameCodable() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let name = RasEntryName(name: "Work", phonebookPath: "/etc/swift-ras/rasphone.pbk", scope: .allUsers)
        #expect(String(decoding: try encoder.encode(name), as: UTF8.self)
            == #"{"name":"Work","phonebookPath":"\/etc\/swift-ras\/rasphone.pbk","scope":"allUsers"}"#)
    }
}
