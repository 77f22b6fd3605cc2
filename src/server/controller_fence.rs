//! Which controller requests (LeaderAndIsr, StopReplica, UpdateMetadata) a broker believes.
//!
//! 0.8.2 believed any of them from anyone, and remembered the highest controller epoch it
//! was sent: one forged StopReplica with epoch 2^31-1 made a broker refuse the real
//! controller until it restarted. Without adding authentication, a request is believed only
//! when its controller id and epoch are the ones ZooKeeper holds in `/controller` and
//! `/controller_epoch`. ZooKeeper is read only when an epoch higher than the one last
//! believed arrives (a new election); the believed controller's requests at its own epoch
//! cost nothing. Anything else is answered with error 11 (StaleControllerEpoch) and
//! changes nothing.

use crate::zk::ZkClient;
use tokio::sync::Mutex;

/// Why a controller request was not believed (logged; the wire answer is always 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotBelieved {
    /// An epoch below the one last believed: an old controller's request.
    StaleEpoch { epoch: i32, known: i32 },
    /// The believed epoch, but another broker id than the controller elected with it.
    WrongController { controller_id: i32, epoch: i32, known_id: i32 },
    /// A newer epoch that ZooKeeper does not show for that controller id.
    NotInZooKeeper { controller_id: i32, epoch: i32, zk_id: Option<i32>, zk_epoch: Option<i32> },
    /// ZooKeeper could not be read to check a newer epoch.
    Unchecked(String),
}

impl std::fmt::Display for NotBelieved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotBelieved::StaleEpoch { epoch, known } => write!(f, "controller epoch {} is older than the current {}", epoch, known),
            NotBelieved::WrongController { controller_id, epoch, known_id } => {
                write!(f, "controller {} claims epoch {}, which belongs to controller {}", controller_id, epoch, known_id)
            }
            NotBelieved::NotInZooKeeper { controller_id, epoch, zk_id, zk_epoch } => write!(
                f,
                "controller {} with epoch {} is not the one in ZooKeeper (controller {:?}, epoch {:?})",
                controller_id, epoch, zk_id, zk_epoch
            ),
            NotBelieved::Unchecked(why) => write!(f, "cannot check the controller in ZooKeeper: {}", why),
        }
    }
}

pub struct ControllerFence {
    zk: ZkClient,
    /// The (controller id, epoch) last believed. Held across the ZooKeeper read, so that
    /// concurrent requests of a new epoch cause one read, and a decision is never based on
    /// a state another request is changing.
    believed: Mutex<Option<(i32, i32)>>,
}

impl ControllerFence {
    pub fn new(zk: ZkClient) -> ControllerFence {
        ControllerFence { zk, believed: Mutex::new(None) }
    }

    /// Ok when a request from `controller_id` at `epoch` comes from the elected controller.
    pub async fn check(&self, controller_id: i32, epoch: i32) -> Result<(), NotBelieved> {
        let mut believed = self.believed.lock().await;
        if let Some((known_id, known)) = *believed {
            if epoch < known {
                return Err(NotBelieved::StaleEpoch { epoch, known });
            }
            if epoch == known {
                return if controller_id == known_id {
                    Ok(())
                } else {
                    Err(NotBelieved::WrongController { controller_id, epoch, known_id })
                };
            }
        }
        let (zk_id, zk_epoch) = self.zk.controller_and_epoch().await.map_err(|e| NotBelieved::Unchecked(e.to_string()))?;
        if zk_id == Some(controller_id) && zk_epoch == Some(epoch) {
            *believed = Some((controller_id, epoch));
            Ok(())
        } else {
            Err(NotBelieved::NotInZooKeeper { controller_id, epoch, zk_id, zk_epoch })
        }
    }
}
