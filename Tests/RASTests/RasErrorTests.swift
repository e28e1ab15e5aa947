import Foundation
import Testing
import RAS

@Suite("RasError")
struct RasErrorTests {
    /// Every code of RAS-REFERENCE §2 (and 749), its name and its static member.
    static let table: [(UInt32, String, RasError)] = [
        (0, "ERROR_SUCCESS", .success), (5, "ERROR_ACCESS_DENIED", .accessDenied),
        (6, "ERROR_INVALID_HANDLE", .invalidHandle), (8, "ERROR_NOT_ENOUGH_MEMORY", .notEnoughMemory),
        (87, "ERROR_INVALID_PARAMETER", .invalidParameter), (122, "ERROR_INSUFFICIENT_BUFFER", .insufficientBuffer),
        (123, "ERROR_INVALID_NAME", .invalidName), (183, "ERROR_ALREADY_EXISTS", .alreadyExists),
        (600, "PENDING", .pending), (602, "ERROR_PORT_ALREADY_OPEN", .portAlreadyOpen),
        (603, "ERROR_BUFFER_TOO_SMALL", .bufferTooSmall), (608, "ERROR_DEVICE_DOES_NOT_EXIST", .deviceDoesNotExist),
        (609, "ERROR_DEVICETYPE_DOES_NOT_EXIST", .deviceTypeDoesNotExist),
        (617, "ERROR_ALREADY_DISCONNECTING", .alreadyDisconnecting), (618, "ERROR_PORT_NOT_OPEN", .portNotOpen),
        (619, "ERROR_PORT_DISCONNECTED", .portDisconnected),
        (621, "ERROR_CANNOT_OPEN_PHONEBOOK", .cannotOpenPhonebook),
        (622, "ERROR_CANNOT_LOAD_PHONEBOOK", .cannotLoadPhonebook),
        (623, "ERROR_CANNOT_FIND_PHONEBOOK_ENTRY", .cannotFindPhonebookEntry),
        (625, "ERROR_CORRUPT_PHONEBOOK", .corruptPhonebook), (628, "ERROR_DISCONNECTION", .disconnection),
        (629, "ERROR_REMOTE_DISCONNECTION", .remoteDisconnection), (630, "ERROR_HARDWARE_FAILURE", .hardwareFailure),
        (631, "ERROR_USER_DISCONNECTION", .userDisconnection), (632, "ERROR_INVALID_SIZE", .invalidSize),
        (633, "ERROR_PORT_NOT_AVAILABLE", .portNotAvailable),
        (638, "ERROR_REQUEST_TIMEOUT", .requestTimeout), (651, "ERROR_FROM_DEVICE", .fromDevice),
        (652, "ERROR_UNRECOGNIZED_RESPONSE", .unrecognizedResponse), (666, "ERROR_DEVICE_NOT_READY", .deviceNotReady),
        (668, "ERROR_NO_CONNECTION", .noConnection), (676, "ERROR_LINE_BUSY", .lineBusy),
        (677, "ERROR_VOICE_ANSWER", .voiceAnswer), (678, "ERROR_NO_ANSWER", .noAnswer),
        (679, "ERROR_NO_CARRIER", .noCarrier), (680, "ERROR_NO_DIALTONE", .noDialtone),
        (681, "ERROR_IN_COMMAND", .inCommand), (691, "ERROR_AUTHENTICATION_FAILURE", .authenticationFailure),
        (703, "ERROR_INTERACTIVE_MODE", .interactiveMode), (710, "ERROR_OVERRUN", .overrun),
        (711, "ERROR_RASMAN_CANNOT_INITIALIZE", .connectionManagerUnavailable),
        (720, "ERROR_PPP_NO_PROTOCOLS_CONFIGURED", .pppNoProtocolsConfigured),
        (732, "ERROR_PPP_NOT_CONVERGING", .pppNotConverging), (737, "ERROR_PPP_LOOPBACK_DETECTED", .pppLoopbackDetected),
        (749, "ERROR_BAD_PHONE_NUMBER", .badPhoneNumber), (753, "ERROR_HANGUP_FAILED", .hangupFailed),
        (756, "ERROR_DIAL_ALREADY_IN_PROGRESS", .dialAlreadyInProgress), (828, "ERROR_IDLE_TIMEOUT", .idleTimeout),
        (829, "ERROR_LINK_FAILURE", .linkFailure),
    ]

    @Test("lookup of every listed code", arguments: table)
    func lookup(code: UInt32, name: String, member: RasError) {
        let error = RasError(code: code)
        #expect(error.code == code)
        #expect(error.name == name)
        #expect(error.isKnown)
        #expect(member.code == code)
        #expect(!error.message.isEmpty)
        #expect(error.description == "error \(code): \(error.message)")
    }

    @Test func knownListMatchesTable() {
        #expect(RasError.known.map(\.code) == Self.table.map(\.0))
        #expect(Set(RasError.known.map(\.message)).count == Self.table.count, "messages are distinct")
    }

    @Test func unknownCodeGetsGenericMessage() {
        let error = RasError(code: 4242)
        #expect(!error.isKnown)
        #expect(error.name == "ERROR_UNKNOWN")
        #expect(error.message.contains("4242"))
        #expect(RasError(code: .max).description.hasPrefix("error 4294967295: "))
    }

    @Test func descriptionWithDetail() {
        #expect(RasError.lineBusy.description == "error 676: The line is busy.")
        let held = RasError.portNotAvailable.with(detail: "port /dev/ttyS0 held by PID 1234")
        #expect(held.description
            == "error 633: The port is already in use or is not set up for dialing out. (port /dev/ttyS0 held by PID 1234)")
        #expect(RasError(code: 625, detail: "").description == "error 625: The phonebook file is corrupt.")
    }

    @Test func equalityIgnoresDetail() {
        #expect(RasError.noCarrier.with(detail: "a") == RasError(code: 679, detail: "b"))
        #expect(RasError.noCarrier != RasError.noAnswer)
        #expect(Set([RasError.noCarrier.with(detail: "a"), RasError.noCarrier]).count == 1)
    }

    @Test func codable() throws {
        let error = RasError.corruptPhonebook.with(detail: "line 7: missing ']'")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(error)) as? [String: Any]
        #expect(json?["code"] as? Int == 625)
        #expect(json?["name"] as? String == "ERROR_CORRUPT_PHONEBOOK")
        #expect(json?["message"] as? String == "The phonebook file is corrupt.")
        #expect(json?["detail"] as? String == "line 7: missing ']'")
        let decoded = try JSONDecoder().decode(RasError.self, from: JSONEncoder().encode(error))
        #expect(decoded.code == 625 && decoded.detail == error.detail)
        let bare = try JSONSerialization.jsonObject(with: JSONEncoder().encode(RasError.lineBusy)) as? [String: Any]
        #expect(bare?["detail"] == nil)
    }

    @Test func throwsAsError() {
        func fail() throws(RasError) { throw .lineBusy }
        #expect(throws: RasError.lineBusy) { try fail() }
    }
}
