// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice Test-only attacker: when it receives ETH it calls `target` with the armed calldata
///         (e.g. claim/cancel/refundExpired again). Mode Bubble re-raises the inner revert, mode Swallow
///         records it and accepts the ETH, mode Reject refuses every ETH transfer.
contract ReentrantReceiver {
    enum Mode {
        Off,
        Bubble,
        Swallow,
        Reject
    }

    Mode public mode;
    address public target;
    bytes public payload;
    uint256 public reentryAttempts;
    bool public lastReentrySucceeded;
    bytes public lastReentryError;
    uint256 public received;

    function arm(Mode mode_, address target_, bytes calldata payload_) external {
        mode = mode_;
        target = target_;
        payload = payload_;
    }

    /// @notice Make a call from this contract (to pay for a job, cancel it, withdraw, ...).
    function exec(address to, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        if (mode == Mode.Reject) revert("rejected");
        received += msg.value;
        if (mode == Mode.Off) return;
        Mode m = mode;
        mode = Mode.Off; // one attempt
        reentryAttempts += 1;
        (bool ok, bytes memory ret) = target.call(payload);
        lastReentrySucceeded = ok;
        lastReentryError = ret;
        if (!ok && m == Mode.Bubble) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
