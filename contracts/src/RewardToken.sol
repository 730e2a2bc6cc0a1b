// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title PrivateHealth Reward (PHR)
/// @notice The project's own ERC-20 (18 decimals). Researchers may pay jobs with it and contributors
///         may be paid in it. Supply is created only by holders of MINTER_ROLE (the operator, for
///         demo and test funding); there is no cap and no burn-from by others.
contract RewardToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    error ZeroAddress();

    /// @param admin  receives DEFAULT_ADMIN_ROLE (may grant/revoke MINTER_ROLE)
    /// @param minter receives MINTER_ROLE (the operator)
    constructor(address admin, address minter) ERC20("PrivateHealth Reward", "PHR") {
        if (admin == address(0) || minter == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice Mint `amount` (in wei units, 18 decimals) to `to`. Emits ERC20 Transfer(0, to, amount).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Burn `amount` of the caller's own tokens.
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}
