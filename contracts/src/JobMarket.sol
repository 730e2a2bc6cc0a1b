// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

interface IPayoutDistributor {
    function fundJob(bytes32 jobId, address asset, bytes32 root, uint256 total, uint64 claimWindow) external payable;
}

/// @title JobMarket
/// @notice Escrow for researchers' analytics/training jobs. One payment per job id, in native ETH or
///         an allowed ERC-20. Lifecycle:
///           None -> Escrowed -> ResultCommitted -> Finalized
///           Escrowed | ResultCommitted -> Refunded   (cancel by payer before a result, operator
///                                                     rejection, or anyone after the deadline)
///         At finalisation the escrow is split exactly: operatorFee to the treasury, totalPayout to
///         the PayoutDistributor together with the Merkle root of the contributors' payouts.
/// @dev Refunds are sent directly to the payer (checks-effects-interactions + nonReentrant): the only
///      address that can make a refund fail is the payer's own, so a pull-payment queue would add a
///      transaction without protecting anyone else.
contract JobMarket is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    enum State {
        None,
        Escrowed,
        ResultCommitted,
        Finalized,
        Refunded
    }

    enum RefundReason {
        Cancelled,
        Rejected,
        Expired
    }

    struct Job {
        address payer;
        uint64 deadline;
        State state;
        address asset; // address(0) = native ETH
        uint256 amount;
        bytes32 quoteHash;
        bytes32 resultHash;
        bytes32 metadataHash;
    }

    IPayoutDistributor public immutable distributor;
    address public treasury;
    /// @notice The ERC-20 used by payToken (the RewardToken at deployment).
    address public defaultToken;
    /// @notice Claim window handed to the distributor by finalize (finalizeWithClaimWindow overrides).
    uint64 public defaultClaimWindow = 365 days;
    mapping(address token => bool) public allowedToken;
    mapping(bytes32 jobId => Job) private _jobs;

    event JobPaid(
        bytes32 indexed jobId,
        address indexed payer,
        address indexed asset,
        uint256 amount,
        bytes32 quoteHash,
        uint256 deadline
    );
    event ResultCommitted(bytes32 indexed jobId, bytes32 resultHash, bytes32 metadataHash);
    event JobFinalized(
        bytes32 indexed jobId, bytes32 payoutRoot, uint256 totalPayout, uint256 operatorFee, address treasury
    );
    event JobRefunded(bytes32 indexed jobId, address indexed payer, uint256 amount, RefundReason reason);
    event TreasuryChanged(address indexed previous, address indexed current);
    event TokenAllowed(address indexed token, bool allowed);
    event DefaultTokenChanged(address indexed previous, address indexed current);
    event DefaultClaimWindowChanged(uint64 previous, uint64 current);

    error ZeroAddress();
    error ZeroAmount();
    error JobExists(bytes32 jobId);
    error DeadlinePassed(uint256 deadline);
    error TokenNotAllowed(address token);
    error TransferAmountMismatch(uint256 expected, uint256 received);
    error WrongState(bytes32 jobId, State current);
    error NotPayer(bytes32 jobId, address caller);
    error JobExpired(bytes32 jobId, uint256 deadline);
    error DeadlineNotReached(bytes32 jobId, uint256 deadline);
    error AmountMismatch(uint256 escrowed, uint256 totalPayout, uint256 operatorFee);
    error ZeroRoot();
    error ZeroHash();
    error NativeTransferFailed(address to, uint256 amount);

    constructor(address admin, address operator, address treasury_, address distributor_, address defaultToken_) {
        if (admin == address(0) || treasury_ == address(0) || distributor_ == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) _grantRole(OPERATOR_ROLE, operator);
        distributor = IPayoutDistributor(distributor_);
        treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
        if (defaultToken_ != address(0)) {
            defaultToken = defaultToken_;
            allowedToken[defaultToken_] = true;
            emit DefaultTokenChanged(address(0), defaultToken_);
            emit TokenAllowed(defaultToken_, true);
        }
    }

    // ------------------------------------------------------------------ admin

    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, treasury_);
        treasury = treasury_;
    }

    function setTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        allowedToken[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @notice Set the token payToken uses (also allows it). address(0) disables payToken.
    function setDefaultToken(address token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit DefaultTokenChanged(defaultToken, token);
        defaultToken = token;
        if (token != address(0) && !allowedToken[token]) {
            allowedToken[token] = true;
            emit TokenAllowed(token, true);
        }
    }

    function setDefaultClaimWindow(uint64 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit DefaultClaimWindowChanged(defaultClaimWindow, window);
        defaultClaimWindow = window; // bounds are checked by the distributor at finalize
    }

    // ------------------------------------------------------------------ views

    function getJob(bytes32 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    function stateOf(bytes32 jobId) external view returns (State) {
        return _jobs[jobId].state;
    }

    // ----------------------------------------------------------------- payment

    /// @notice Escrow msg.value for `jobId`. `deadline` (unix seconds, in the future) is when the job
    ///         expires: after it, if not finalised, anyone can refund the payer.
    function payNative(bytes32 jobId, bytes32 quoteHash, uint256 deadline) external payable {
        if (msg.value == 0) revert ZeroAmount();
        _open(jobId, quoteHash, deadline, address(0), msg.value);
    }

    /// @notice Escrow `amount` of the default token (the RewardToken); needs a prior approve.
    function payToken(bytes32 jobId, bytes32 quoteHash, uint256 amount, uint256 deadline) external nonReentrant {
        _payToken(jobId, quoteHash, defaultToken, amount, deadline);
    }

    /// @notice Escrow `amount` of any allowed ERC-20 `token`; needs a prior approve.
    function payWithToken(bytes32 jobId, bytes32 quoteHash, address token, uint256 amount, uint256 deadline)
        external
        nonReentrant
    {
        _payToken(jobId, quoteHash, token, amount, deadline);
    }

    function _payToken(bytes32 jobId, bytes32 quoteHash, address token, uint256 amount, uint256 deadline) private {
        if (token == address(0) || !allowedToken[token]) revert TokenNotAllowed(token);
        if (amount == 0) revert ZeroAmount();
        _open(jobId, quoteHash, deadline, token, amount);
        // Effects are done; pull the tokens and insist the full amount arrived (no fee-on-transfer).
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(amount, received);
    }

    function _open(bytes32 jobId, bytes32 quoteHash, uint256 deadline, address asset, uint256 amount) private {
        Job storage j = _jobs[jobId];
        if (j.state != State.None) revert JobExists(jobId);
        if (deadline <= block.timestamp || deadline > type(uint64).max) revert DeadlinePassed(deadline);
        j.payer = msg.sender;
        j.deadline = uint64(deadline);
        j.state = State.Escrowed;
        j.asset = asset;
        j.amount = amount;
        j.quoteHash = quoteHash;
        emit JobPaid(jobId, msg.sender, asset, amount, quoteHash, deadline);
    }

    // --------------------------------------------------------------- operator

    /// @notice Commit the hash of the job's result (and of its metadata). Only once, before the deadline.
    function commitResult(bytes32 jobId, bytes32 resultHash, bytes32 metadataHash) external onlyRole(OPERATOR_ROLE) {
        Job storage j = _jobs[jobId];
        if (j.state != State.Escrowed) revert WrongState(jobId, j.state);
        if (block.timestamp > j.deadline) revert JobExpired(jobId, j.deadline);
        if (resultHash == bytes32(0)) revert ZeroHash();
        j.state = State.ResultCommitted;
        j.resultHash = resultHash;
        j.metadataHash = metadataHash;
        emit ResultCommitted(jobId, resultHash, metadataHash);
    }

    /// @notice Settle the job with the default claim window. totalPayout + operatorFee must equal
    ///         the escrowed amount exactly.
    function finalize(bytes32 jobId, bytes32 payoutRoot, uint256 totalPayout, uint256 operatorFee)
        external
        onlyRole(OPERATOR_ROLE)
        nonReentrant
    {
        _finalize(jobId, payoutRoot, totalPayout, operatorFee, defaultClaimWindow);
    }

    /// @notice As finalize, with an explicit claim window (seconds) for this job.
    function finalizeWithClaimWindow(
        bytes32 jobId,
        bytes32 payoutRoot,
        uint256 totalPayout,
        uint256 operatorFee,
        uint64 claimWindow
    ) external onlyRole(OPERATOR_ROLE) nonReentrant {
        _finalize(jobId, payoutRoot, totalPayout, operatorFee, claimWindow);
    }

    function _finalize(bytes32 jobId, bytes32 payoutRoot, uint256 totalPayout, uint256 operatorFee, uint64 window)
        private
    {
        Job storage j = _jobs[jobId];
        if (j.state != State.ResultCommitted) revert WrongState(jobId, j.state);
        if (block.timestamp > j.deadline) revert JobExpired(jobId, j.deadline);
        if (totalPayout + operatorFee != j.amount) revert AmountMismatch(j.amount, totalPayout, operatorFee);
        if (totalPayout != 0 && payoutRoot == bytes32(0)) revert ZeroRoot();
        j.state = State.Finalized;
        address asset = j.asset;
        address to = treasury;
        emit JobFinalized(jobId, payoutRoot, totalPayout, operatorFee, to);

        if (asset == address(0)) {
            if (operatorFee != 0) {
                (bool ok,) = payable(to).call{value: operatorFee}("");
                if (!ok) revert NativeTransferFailed(to, operatorFee);
            }
            if (totalPayout != 0) distributor.fundJob{value: totalPayout}(jobId, address(0), payoutRoot, totalPayout, window);
        } else {
            if (operatorFee != 0) IERC20(asset).safeTransfer(to, operatorFee);
            if (totalPayout != 0) {
                IERC20(asset).safeTransfer(address(distributor), totalPayout);
                distributor.fundJob(jobId, asset, payoutRoot, totalPayout, window);
            }
        }
    }

    // ----------------------------------------------------------------- refunds

    /// @notice The payer withdraws before a result was committed.
    function cancel(bytes32 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        if (j.state != State.Escrowed) revert WrongState(jobId, j.state);
        if (j.payer != msg.sender) revert NotPayer(jobId, msg.sender);
        _refund(jobId, j, RefundReason.Cancelled);
    }

    /// @notice The operator declines a job it cannot run (e.g. cohort too small); full refund.
    function reject(bytes32 jobId) external onlyRole(OPERATOR_ROLE) nonReentrant {
        Job storage j = _jobs[jobId];
        if (j.state != State.Escrowed && j.state != State.ResultCommitted) revert WrongState(jobId, j.state);
        _refund(jobId, j, RefundReason.Rejected);
    }

    /// @notice Anyone may refund the payer once the deadline has passed and the job is not finalised.
    function refundExpired(bytes32 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        if (j.state != State.Escrowed && j.state != State.ResultCommitted) revert WrongState(jobId, j.state);
        if (block.timestamp <= j.deadline) revert DeadlineNotReached(jobId, j.deadline);
        _refund(jobId, j, RefundReason.Expired);
    }

    function _refund(bytes32 jobId, Job storage j, RefundReason reason) private {
        j.state = State.Refunded;
        address payer = j.payer;
        uint256 amount = j.amount;
        address asset = j.asset;
        emit JobRefunded(jobId, payer, amount, reason);
        if (asset == address(0)) {
            (bool ok,) = payable(payer).call{value: amount}("");
            if (!ok) revert NativeTransferFailed(payer, amount);
        } else {
            IERC20(asset).safeTransfer(payer, amount);
        }
    }
}
