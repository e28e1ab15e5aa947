import Foundation
import Testing
import RAS

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

    @Test func corruptPhonebookStopsEnumeration() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let system = try dir.write("etc.pbk", "[A]\nRedialAttempts=x\n")
        let searchPath = PhonebookSearchPath(environment: [:], systemPhonebookPath: system)
        #expect(throws: RasError.corruptPhonebook) { try searchPath.enumerateEntries() }
    }

    @Test func entryNameCodable() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let name = RasEntryName(name: "Work", phonebookPath: "/etc/swift-ras/rasphone.pbk", scope: .allUsers)
        #expect(String(decoding: try encoder.encode(name), as: UTF8.self)
            == #"{"name":"Work","phonebookPath":"\/etc\/swift-ras\/rasphone.pbk","scope":"allUsers"}"#)
    }
}
