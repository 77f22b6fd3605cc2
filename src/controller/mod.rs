//! The controller (`kafka.controller`): placeholder until the controller lands.
