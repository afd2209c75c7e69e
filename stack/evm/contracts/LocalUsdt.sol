// SPDX-License-Identifier: MIT
// The local chain's stand-in for Tether USD (ERC-20, 6 decimals). Like the real contract, its owner
// mints and keeps a blacklist: a transfer from or to a blacklisted address reverts, which is how
// tests get a real on-chain revert.
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract LocalUsdt is ERC20, Ownable {
    mapping(address account => bool) public isBlacklisted;

    error BlacklistedAccount(address account);

    event Blacklisted(address indexed account, bool blacklisted);

    constructor(address initialOwner) ERC20("Tether USD (local)", "USDT") Ownable(initialOwner) {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    function setBlacklisted(address account, bool blacklisted) external onlyOwner {
        isBlacklisted[account] = blacklisted;
        emit Blacklisted(account, blacklisted);
    }

    // Every balance change goes through _update in OpenZeppelin 5, so one check covers transfer,
    // transferFrom, mint and burn.
    function _update(address from, address to, uint256 value) internal override {
        if (isBlacklisted[from]) revert BlacklistedAccount(from);
        if (isBlacklisted[to]) revert BlacklistedAccount(to);
        super._update(from, to, value);
    }
}
