// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title PayoutDistributor
/// @notice Holds the contributor payout of each finalised job and pays it out against a Merkle root.
///         Only the root is stored, so settling a job costs the same for 10 or 100,000 contributors;
///         each contributor (or anyone on their behalf, e.g. the coordinator in a batch) claims with
///         a proof, and the funds always go to the account named in the leaf.
/// @dev Leaf (OpenZeppelin StandardMerkleTree, types ["bytes32","address","uint256"]):
///        leaf = keccak256(bytes.concat(keccak256(abi.encode(jobId, account, amount))))
///      Inner nodes hash the sorted pair (MerkleProof). A tree holds at most one leaf per account.
///
///      Unclaimed funds: each job has a claim deadline (finalisation time + claim window, set by the
///      funder). Claims stay possible until the job is swept; after the deadline the OPERATOR may
///      sweep the unclaimed remainder to the treasury, which closes the job for good.
///
///      Native payouts: if sending ETH to an account fails (e.g. a contract without receive), the
///      amount is credited to `pendingNative[account]` instead of reverting, so one bad receiver can
///      never block a batch; the account withdraws it later with withdrawPending(to).
contract PayoutDistributor is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Held by the JobMarket: the only caller of fundJob.
    bytes32 public constant FUNDER_ROLE = keccak256("FUNDER_ROLE");

    /// @notice Gas forwarded to each native receiver inside claimBatch/claimMulti.
    uint256 public constant BATCH_NATIVE_GAS = 50_000;
    uint64 public constant MIN_CLAIM_WINDOW = 1 days;
    uint64 public constant MAX_CLAIM_WINDOW = 3650 days;

    struct Distribution {
        bytes32 root;
        address asset; // address(0) = native ETH
        uint64 claimDeadline;
        bool swept;
        uint128 total;
        uint128 claimedAmount;
    }

    address public treasury;
    mapping(bytes32 jobId => Distribution) private _distributions;
    mapping(bytes32 jobId => mapping(address account => bool)) private _claimed;
    /// @notice Amount reserved for open distributions, per asset (address(0) = native).
    mapping(address asset => uint256) public reserved;
    /// @notice Native payouts that could not be delivered, per account.
    mapping(address account => uint256) public pendingNative;

    event JobFunded(bytes32 indexed jobId, address indexed asset, bytes32 root, uint256 total, uint256 claimDeadline);
    event Claimed(bytes32 indexed jobId, address indexed account, uint256 amount, address indexed submitter);
    event PayoutDeferred(bytes32 indexed jobId, address indexed account, uint256 amount);
    event PendingWithdrawn(address indexed account, address indexed to, uint256 amount);
    event Swept(bytes32 indexed jobId, address indexed treasury, uint256 amount);
    event TreasuryChanged(address indexed previous, address indexed current);

    error ZeroAddress();
    error ZeroRoot();
    error ZeroAmount();
    error JobAlreadyFunded(bytes32 jobId);
    error UnknownJob(bytes32 jobId);
    error AlreadyClaimed(bytes32 jobId, address account);
    error InvalidProof(bytes32 jobId, address account, uint256 amount);
    error ExceedsTotal(bytes32 jobId);
    error AlreadySwept(bytes32 jobId);
    error ClaimWindowOpen(bytes32 jobId, uint256 claimDeadline);
    error InvalidClaimWindow(uint256 window);
    error WrongValue(uint256 expected, uint256 received);
    error UnderFunded(address asset, uint256 needed, uint256 balance);
    error LengthMismatch();
    error NothingPending(address account);
    error NativeTransferFailed(address to, uint256 amount);

    constructor(address admin, address operator, address treasury_) {
        if (admin == address(0) || treasury_ == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) _grantRole(OPERATOR_ROLE, operator);
        treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
    }

    // ------------------------------------------------------------------ admin

    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, treasury_);
        treasury = treasury_;
    }

    // ------------------------------------------------------------------ views

    function distribution(bytes32 jobId) external view returns (Distribution memory) {
        return _distributions[jobId];
    }

    function claimed(bytes32 jobId, address account) external view returns (bool) {
        return _claimed[jobId][account];
    }

    /// @notice The leaf as stored in the tree (double keccak of abi.encode(jobId, account, amount)).
    function leafOf(bytes32 jobId, address account, uint256 amount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(jobId, account, amount))));
    }

    // ----------------------------------------------------------------- funding

    /// @notice Open the distribution of a job. Called by the JobMarket at finalisation. For native
    ///         payouts msg.value must equal `total`; for ERC-20 the funder transfers the tokens to this
    ///         contract first (checked against the balance, net of what other jobs have reserved).
    function fundJob(bytes32 jobId, address asset, bytes32 root, uint256 total, uint64 claimWindow)
        external
        payable
        onlyRole(FUNDER_ROLE)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (total == 0) revert ZeroAmount();
        if (claimWindow < MIN_CLAIM_WINDOW || claimWindow > MAX_CLAIM_WINDOW) revert InvalidClaimWindow(claimWindow);
        Distribution storage d = _distributions[jobId];
        if (d.root != bytes32(0)) revert JobAlreadyFunded(jobId);

        uint256 newReserved = reserved[asset] + total;
        if (asset == address(0)) {
            if (msg.value != total) revert WrongValue(total, msg.value);
        } else {
            if (msg.value != 0) revert WrongValue(0, msg.value);
            uint256 bal = IERC20(asset).balanceOf(address(this));
            if (bal < newReserved) revert UnderFunded(asset, newReserved, bal);
        }
        reserved[asset] = newReserved;

        uint64 deadline = uint64(block.timestamp) + claimWindow;
        d.root = root;
        d.asset = asset;
        d.claimDeadline = deadline;
        d.total = uint128(total); // total <= reserved balance, far below 2^128
        emit JobFunded(jobId, asset, root, total, deadline);
    }

    // ------------------------------------------------------------------ claims

    /// @notice Pay `amount` to `account` for `jobId` against a Merkle proof. Anyone may submit.
    function claim(bytes32 jobId, address account, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        Distribution storage d = _open(jobId);
        if (_claimed[jobId][account]) revert AlreadyClaimed(jobId, account);
        if (!MerkleProof.verifyCalldata(proof, d.root, leafOf(jobId, account, amount))) {
            revert InvalidProof(jobId, account, amount);
        }
        _markClaimed(d, jobId, account, amount);
        _pay(jobId, d.asset, account, amount, gasleft());
    }

    /// @notice Pay many accounts of one job, one proof each. Anyone may submit (meant for the
    ///         coordinator). Entries already claimed are skipped (so a participant claiming on their
    ///         own cannot make the batch revert); an invalid proof reverts the whole batch.
    /// @return paid number of entries paid (or deferred) by this call
    function claimBatch(
        bytes32 jobId,
        address[] calldata accounts,
        uint256[] calldata amounts,
        bytes32[][] calldata proofs
    ) external nonReentrant returns (uint256 paid) {
        if (accounts.length != amounts.length || accounts.length != proofs.length) revert LengthMismatch();
        Distribution storage d = _open(jobId);
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (_batchEntry(d, jobId, accounts[i], amounts[i], proofs[i])) ++paid;
        }
    }

    function _batchEntry(
        Distribution storage d,
        bytes32 jobId,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) private returns (bool) {
        if (_claimed[jobId][account]) return false;
        if (!MerkleProof.verifyCalldata(proof, d.root, leafOf(jobId, account, amount))) {
            revert InvalidProof(jobId, account, amount);
        }
        _markClaimed(d, jobId, account, amount);
        _pay(jobId, d.asset, account, amount, BATCH_NATIVE_GAS);
        return true;
    }

    /// @notice Pay many accounts of one job with one OpenZeppelin multiproof (cheaper than separate
    ///         proofs when the leaves share branches). Leaves must be given in the order produced by
    ///         StandardMerkleTree.getMultiProof. Unlike claimBatch, an already claimed entry reverts
    ///         (the multiproof covers the exact leaf set).
    function claimMulti(
        bytes32 jobId,
        address[] calldata accounts,
        uint256[] calldata amounts,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external nonReentrant {
        if (accounts.length != amounts.length) revert LengthMismatch();
        Distribution storage d = _open(jobId);
        bytes32[] memory leaves = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            leaves[i] = leafOf(jobId, accounts[i], amounts[i]);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, d.root, leaves)) {
            revert InvalidProof(jobId, address(0), 0);
        }
        address asset = d.asset;
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (_claimed[jobId][accounts[i]]) revert AlreadyClaimed(jobId, accounts[i]);
            _markClaimed(d, jobId, accounts[i], amounts[i]);
            _pay(jobId, asset, accounts[i], amounts[i], BATCH_NATIVE_GAS);
        }
    }

    /// @notice Withdraw native payouts that could not be delivered to the caller, to `to`.
    function withdrawPending(address payable to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = pendingNative[msg.sender];
        if (amount == 0) revert NothingPending(msg.sender);
        pendingNative[msg.sender] = 0;
        emit PendingWithdrawn(msg.sender, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert NativeTransferFailed(to, amount);
    }

    // ------------------------------------------------------------------- sweep

    /// @notice After the claim deadline, move the unclaimed remainder of `jobId` to the treasury and
    ///         close the job (later claims revert with AlreadySwept).
    function sweep(bytes32 jobId) external onlyRole(OPERATOR_ROLE) nonReentrant returns (uint256 amount) {
        Distribution storage d = _distributions[jobId];
        if (d.root == bytes32(0)) revert UnknownJob(jobId);
        if (d.swept) revert AlreadySwept(jobId);
        if (block.timestamp <= d.claimDeadline) revert ClaimWindowOpen(jobId, d.claimDeadline);
        d.swept = true;
        amount = uint256(d.total) - uint256(d.claimedAmount);
        address asset = d.asset;
        reserved[asset] -= amount;
        address to = treasury;
        emit Swept(jobId, to, amount);
        if (amount == 0) return 0;
        if (asset == address(0)) {
            (bool ok,) = payable(to).call{value: amount}("");
            if (!ok) revert NativeTransferFailed(to, amount);
        } else {
            IERC20(asset).safeTransfer(to, amount);
        }
    }

    // ---------------------------------------------------------------- internals

    function _open(bytes32 jobId) private view returns (Distribution storage d) {
        d = _distributions[jobId];
        if (d.root == bytes32(0)) revert UnknownJob(jobId);
        if (d.swept) revert AlreadySwept(jobId);
    }

    function _markClaimed(Distribution storage d, bytes32 jobId, address account, uint256 amount) private {
        uint256 newClaimed = uint256(d.claimedAmount) + amount;
        if (newClaimed > d.total) revert ExceedsTotal(jobId);
        d.claimedAmount = uint128(newClaimed);
        _claimed[jobId][account] = true;
        emit Claimed(jobId, account, amount, msg.sender);
    }

    /// @dev Called after all state changes (CEI). Native: a failed send becomes a pending credit.
    function _pay(bytes32 jobId, address asset, address account, uint256 amount, uint256 gasLimit) private {
        reserved[asset] -= amount;
        if (amount == 0) return;
        if (asset == address(0)) {
            (bool ok,) = payable(account).call{value: amount, gas: gasLimit}("");
            if (!ok) {
                pendingNative[account] += amount;
                emit PayoutDeferred(jobId, account, amount);
            }
        } else {
            IERC20(asset).safeTransfer(account, amount);
        }
    }
}
