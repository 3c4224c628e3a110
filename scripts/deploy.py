"""`ape run deploy --network ethereum:local:foundry`: deploy Bulkhead through ape's provider.

A thin wrapper over `bulkhead.deploy.deploy`, the function the CLI, the demo and the tests
call: it takes ape's connected web3, picks the account like `bulkhead deploy` does (a dev
account by index on a local chain, else a keystore or `BULKHEAD_PRIVATE_KEY`), and writes
the manifest.
"""

import click
from ape.cli import ConnectedProviderCommand, network_option

from bulkhead.chain import TxError
from bulkhead.deploy import Config, ConfigError, deploy
from bulkhead.eth import accounts
from bulkhead.eth.accounts import AccountError


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--config", type=click.Path(dir_okay=False), help="Pools to deploy (TOML or YAML).")
@click.option(
    "--manifest",
    envvar="BULKHEAD_MANIFEST",
    default="deployment.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the manifest.",
)
@click.option("--account", type=click.IntRange(min=0), help="Dev account index (local chains).")
@click.option("--keystore", type=click.Path(dir_okay=False), help="Encrypted key file.")
def cli(provider, config, manifest, account, keystore):
    """Deploy bhUSD, the factory, the lens and the pools; write the manifest."""
    w3 = provider.web3
    try:
        sender = accounts.resolve(
            w3, account, keystore, prompt=lambda text: click.prompt(text, hide_input=True)
        )
        click.echo(f"deploying to chain id {w3.eth.chain_id} from {sender.address}")
        progress = lambda line: click.echo(f"  {line}")  # noqa: E731
        steward = accounts.dev_steward(w3, sender.address)  # a local chain: dev account 8
        deployment = deploy(w3, sender, Config.load(config), progress=progress, steward=steward)
    except (AccountError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except TxError as exc:
        raise click.ClickException(f"transaction refused: {exc.reason}") from None
    deployment.save(manifest)
    click.echo(f"manifest written to {manifest}")
