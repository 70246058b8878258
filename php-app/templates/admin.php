<?php
/**
 * The admin settings section (OCA\Harp\Settings\Admin::state() gives $_).
 * Pairing posts a device ID to PairingController::trust with Nextcloud's
 * request token; the admin ticks that the IDs were compared first.
 */
/** @var array $_ */
/** @var \OCP\IL10N $l */
$bytes = [\OCA\Harp\Command\Peers::class, 'bytes'];
?>
<div id="harpbridge" class="section">
	<h2>Harp</h2>
<?php if (!$_['extension']): ?>
	<p class="warning"><?php p($_['install_hint']); ?></p>
<?php elseif (!$_['running']): ?>
	<p class="warning"><?php p($_['error']); ?></p>
<?php else: ?>
	<p>This device: <strong><?php p($_['name']); ?></strong><br>
		ID <code class="harp-device-id"><?php p($_['device_id']); ?></code></p>
	<p>WAN bytes saved (received from peers on the LAN): <strong class="harp-wan-saved"><?php p($bytes($_['wan_bytes_saved'])); ?></strong></p>
<?php endif; ?>

	<h3>Peers</h3>
	<table class="grid harp-peers">
		<thead><tr><th>Device</th><th>Name</th><th>Network</th><th>RTT</th><th>Trusted</th><th>Connected</th><th></th></tr></thead>
		<tbody>
<?php foreach ($_['peers'] as $peer): ?>
		<tr data-device-id="<?php p($peer['device_id']); ?>">
			<td><code><?php p($peer['device_id']); ?></code></td>
			<td><?php p($peer['name']); ?></td>
			<td><?php p($peer['network']); ?></td>
			<td><?php p($peer['rtt_ms'] === null ? '' : $peer['rtt_ms'] . ' ms'); ?></td>
			<td><?php p($peer['trusted'] ? 'yes' : 'no'); ?></td>
			<td><?php p($peer['connected'] ? 'yes' : 'no'); ?></td>
			<td>
<?php if (!$peer['trusted']): ?>
				<form method="post" action="<?php p($_['trust_url']); ?>">
					<input type="hidden" name="requesttoken" value="<?php p($_['requesttoken'] ?? ''); ?>">
					<input type="hidden" name="deviceId" value="<?php p($peer['device_id']); ?>">
					<label><input type="checkbox" name="compared" value="1" required> I compared this ID with the one shown on that device</label>
					<button type="submit">Trust</button>
				</form>
<?php else: ?>
				<form method="post" action="<?php p($_['untrust_url']); ?>">
					<input type="hidden" name="requesttoken" value="<?php p($_['requesttoken'] ?? ''); ?>">
					<input type="hidden" name="deviceId" value="<?php p($peer['device_id']); ?>">
					<button type="submit">Untrust</button>
				</form>
<?php endif; ?>
			</td>
		</tr>
<?php endforeach; ?>
		</tbody>
	</table>
	<p>A device beyond the LAN: <code>occ harp:trust &lt;its ID&gt; &lt;IP:port&gt;</code>, and the same on that server with this ID.</p>

	<h3>Folders</h3>
	<table class="grid harp-folders">
		<thead><tr><th>Harp folder</th><th>In Nextcloud</th><th>Files</th><th>State</th></tr></thead>
		<tbody>
<?php foreach ($_['folders'] as $folder): ?>
		<tr><td><?php p($folder['id']); ?></td><td><?php p($folder['where']); ?></td><td><?php p((string) ($folder['files'] ?? '')); ?></td><td><?php p($folder['state']); ?></td></tr>
<?php endforeach; ?>
		</tbody>
	</table>

	<h3>Transfers in flight</h3>
	<ul class="harp-transfers">
<?php foreach ($_['transfers'] as $t): ?>
		<li><?php p("{$t['folder']}/{$t['path']}: " . $bytes((int) $t['bytes_done']) . ' of ' . $bytes((int) $t['bytes_total'])); ?></li>
<?php endforeach; ?>
<?php if ($_['transfers'] === []): ?>
		<li>none</li>
<?php endif; ?>
	</ul>
</div>
