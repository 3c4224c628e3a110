"""Stress simulator: crash scenarios on a real node, with keepers, reports and plots.

`bulkhead simulate` runs one scenario (`engine.run`); `bulkhead simulate sweep` searches
the largest single-block drop with zero bad debt over one or two parameters
(`sweep.run`). See docs/SIMULATION.md.
"""

from bulkhead.simulate.engine import Settings, Simulation, SimulationError, run
from bulkhead.simulate.population import Population
from bulkhead.simulate.scenario import Scenario

__all__ = ["Population", "Scenario", "Settings", "Simulation", "SimulationError", "run"]
