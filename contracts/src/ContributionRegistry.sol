// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title ContributionRegistry
/// @notice On-chain record of participants' consent (per purpose) and of hash commitments to their
///         contributions. Records are bound to the participant's address and cannot be transferred
///         (there is no transfer function at all: a soulbound-equivalent record). Nothing personal is
///         stored: a purpose, a cohort and a contribution are opaque bytes32 values, a commitment is a
///         hash computed off chain.
/// @dev Every change is made either by the participant directly or by a RELAYER (the coordinator)
///      carrying the participant's EIP-712 signature. Each participant has one sequential nonce that
///      every change consumes, direct or relayed; so a direct change (e.g. revoking consent) also
///      cancels every signature the participant handed out earlier and that was not yet relayed.
///      Signatures are checked with SignatureChecker (EOA via ECDSA, or ERC-1271 contract wallets).
contract ContributionRegistry is AccessControl, EIP712, Nonces {
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    bytes32 public constant CONSENT_TYPEHASH =
        keccak256("Consent(address participant,bytes32 purpose,bool granted,uint256 nonce,uint256 deadline)");
    bytes32 public constant CONTRIBUTION_TYPEHASH = keccak256(
        "Contribution(address participant,bytes32 contributionId,bytes32 purpose,bytes32 commitment,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("ContributionRevocation(address participant,bytes32 contributionId,uint256 nonce,uint256 deadline)");

    struct ConsentRequest {
        address participant;
        bytes32 purpose;
        bool granted;
        uint256 nonce;
        uint256 deadline;
    }

    struct ContributionRequest {
        address participant;
        bytes32 contributionId;
        bytes32 purpose;
        bytes32 commitment;
        uint256 nonce;
        uint256 deadline;
    }

    struct RevocationRequest {
        address participant;
        bytes32 contributionId;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice Consent state of one participant for one purpose. Timestamps are of the latest grant
    ///         and the latest revocation (0 = never).
    struct ConsentRecord {
        bool granted;
        uint64 grantedAt;
        uint64 revokedAt;
    }

    /// @notice One contribution commitment. `revokedAt` = 0 while active.
    struct ContributionRecord {
        address participant;
        uint64 recordedAt;
        uint64 revokedAt;
        bytes32 purpose;
        bytes32 commitment;
    }

    mapping(address participant => mapping(bytes32 purpose => ConsentRecord)) private _consents;
    mapping(bytes32 contributionId => ContributionRecord) private _contributions;

    event ConsentChanged(
        address indexed participant, bytes32 indexed purpose, bool granted, uint256 timestamp, address indexed submitter
    );
    event ContributionRecorded(
        bytes32 indexed contributionId,
        address indexed participant,
        bytes32 indexed purpose,
        bytes32 commitment,
        uint256 timestamp,
        address submitter
    );
    event ContributionRevoked(
        bytes32 indexed contributionId, address indexed participant, uint256 timestamp, address indexed submitter
    );

    error ZeroAddress();
    error ZeroValue();
    error ConsentUnchanged(address participant, bytes32 purpose, bool granted);
    error ConsentNotGranted(address participant, bytes32 purpose);
    error ContributionExists(bytes32 contributionId);
    error UnknownContribution(bytes32 contributionId);
    error NotContributor(bytes32 contributionId, address caller);
    error ContributionAlreadyRevoked(bytes32 contributionId);
    error SignatureExpired(uint256 deadline);
    error InvalidSignature(address participant);
    error LengthMismatch();

    /// @param admin   receives DEFAULT_ADMIN_ROLE (may grant/revoke RELAYER_ROLE)
    /// @param relayer receives RELAYER_ROLE (the coordinator); address(0) = none yet
    constructor(address admin, address relayer) EIP712("PrivateHealth ContributionRegistry", "1") {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (relayer != address(0)) _grantRole(RELAYER_ROLE, relayer);
    }

    // ------------------------------------------------------------------ views

    function consentOf(address participant, bytes32 purpose) external view returns (ConsentRecord memory) {
        return _consents[participant][purpose];
    }

    function hasConsent(address participant, bytes32 purpose) public view returns (bool) {
        return _consents[participant][purpose].granted;
    }

    function contributionOf(bytes32 contributionId) external view returns (ContributionRecord memory) {
        return _contributions[contributionId];
    }

    /// @notice True if the contribution exists and is not revoked.
    function isActiveContribution(bytes32 contributionId) external view returns (bool) {
        ContributionRecord storage c = _contributions[contributionId];
        return c.participant != address(0) && c.revokedAt == 0;
    }

    /// @notice The EIP-712 domain separator (also available field by field through eip712Domain()).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function hashConsent(ConsentRequest calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(CONSENT_TYPEHASH, r.participant, r.purpose, r.granted, r.nonce, r.deadline))
        );
    }

    function hashContribution(ContributionRequest calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CONTRIBUTION_TYPEHASH, r.participant, r.contributionId, r.purpose, r.commitment, r.nonce, r.deadline
                )
            )
        );
    }

    function hashRevocation(RevocationRequest calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(REVOCATION_TYPEHASH, r.participant, r.contributionId, r.nonce, r.deadline))
        );
    }

    // --------------------------------------------------------- direct calls

    /// @notice Grant (true) or revoke (false) the caller's consent for `purpose`. Consumes a nonce.
    function setConsent(bytes32 purpose, bool granted) external {
        _useNonce(msg.sender);
        _setConsent(msg.sender, purpose, granted);
    }

    /// @notice Record a commitment to one of the caller's contributions. Needs granted consent for
    ///         `purpose`; `contributionId` must never have been used before. Consumes a nonce.
    function recordContribution(bytes32 contributionId, bytes32 purpose, bytes32 commitment) external {
        _useNonce(msg.sender);
        _recordContribution(msg.sender, contributionId, purpose, commitment);
    }

    /// @notice Revoke one of the caller's contributions. Consumes a nonce.
    function revokeContribution(bytes32 contributionId) external {
        _useNonce(msg.sender);
        _revokeContribution(msg.sender, contributionId);
    }

    /// @notice Consume the caller's current nonce without any other change: cancels every signature
    ///         handed out for that nonce and later ones in sequence.
    function cancelPendingSignatures() external {
        _useNonce(msg.sender);
    }

    // --------------------------------------------------------- relayed calls

    function relayConsent(ConsentRequest calldata r, bytes calldata signature) external onlyRole(RELAYER_ROLE) {
        _relayConsent(r, signature);
    }

    /// @notice Relay many consents in one transaction. Atomic: any invalid entry reverts the batch.
    function relayConsentBatch(ConsentRequest[] calldata rs, bytes[] calldata signatures)
        external
        onlyRole(RELAYER_ROLE)
    {
        if (rs.length != signatures.length) revert LengthMismatch();
        for (uint256 i = 0; i < rs.length; ++i) {
            _relayConsent(rs[i], signatures[i]);
        }
    }

    function relayContribution(ContributionRequest calldata r, bytes calldata signature)
        external
        onlyRole(RELAYER_ROLE)
    {
        _relayContribution(r, signature);
    }

    /// @notice Relay many contribution commitments in one transaction. Atomic.
    function relayContributionBatch(ContributionRequest[] calldata rs, bytes[] calldata signatures)
        external
        onlyRole(RELAYER_ROLE)
    {
        if (rs.length != signatures.length) revert LengthMismatch();
        for (uint256 i = 0; i < rs.length; ++i) {
            _relayContribution(rs[i], signatures[i]);
        }
    }

    function relayRevocation(RevocationRequest calldata r, bytes calldata signature)
        external
        onlyRole(RELAYER_ROLE)
    {
        _verify(r.participant, r.nonce, r.deadline, hashRevocation(r), signature);
        _revokeContribution(r.participant, r.contributionId);
    }

    // ---------------------------------------------------------------- internals

    function _relayConsent(ConsentRequest calldata r, bytes calldata signature) private {
        _verify(r.participant, r.nonce, r.deadline, hashConsent(r), signature);
        _setConsent(r.participant, r.purpose, r.granted);
    }

    function _relayContribution(ContributionRequest calldata r, bytes calldata signature) private {
        _verify(r.participant, r.nonce, r.deadline, hashContribution(r), signature);
        _recordContribution(r.participant, r.contributionId, r.purpose, r.commitment);
    }

    /// @dev Deadline, then signature, then nonce (consumed on success only since the tx reverts otherwise).
    function _verify(address participant, uint256 nonce, uint256 deadline, bytes32 digest, bytes calldata signature)
        private
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        if (participant == address(0) || !SignatureChecker.isValidSignatureNow(participant, digest, signature)) {
            revert InvalidSignature(participant);
        }
        _useCheckedNonce(participant, nonce);
    }

    function _setConsent(address participant, bytes32 purpose, bool granted) private {
        if (purpose == bytes32(0)) revert ZeroValue();
        ConsentRecord storage c = _consents[participant][purpose];
        if (c.granted == granted) revert ConsentUnchanged(participant, purpose, granted);
        c.granted = granted;
        if (granted) c.grantedAt = uint64(block.timestamp);
        else c.revokedAt = uint64(block.timestamp);
        emit ConsentChanged(participant, purpose, granted, block.timestamp, msg.sender);
    }

    function _recordContribution(address participant, bytes32 contributionId, bytes32 purpose, bytes32 commitment)
        private
    {
        if (contributionId == bytes32(0) || commitment == bytes32(0)) revert ZeroValue();
        if (!_consents[participant][purpose].granted) revert ConsentNotGranted(participant, purpose);
        ContributionRecord storage c = _contributions[contributionId];
        if (c.participant != address(0)) revert ContributionExists(contributionId);
        c.participant = participant;
        c.recordedAt = uint64(block.timestamp);
        c.purpose = purpose;
        c.commitment = commitment;
        emit ContributionRecorded(contributionId, participant, purpose, commitment, block.timestamp, msg.sender);
    }

    function _revokeContribution(address participant, bytes32 contributionId) private {
        ContributionRecord storage c = _contributions[contributionId];
        if (c.participant == address(0)) revert UnknownContribution(contributionId);
        if (c.participant != participant) revert NotContributor(contributionId, participant);
        if (c.revokedAt != 0) revert ContributionAlreadyRevoked(contributionId);
        c.revokedAt = uint64(block.timestamp);
        emit ContributionRevoked(contributionId, participant, block.timestamp, msg.sender);
    }
}
