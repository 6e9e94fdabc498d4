//! One handler per request to the master, each returning the reply its request names.

use super::{service_types_match, Notice, Registry, ServiceEntry};
use pinion::protocol::master_to_node::{
    Listing, MasterError, MasterErrorKind, PublisherInfo, ServiceInfo, SubscriberInfo,
};
use pinion::protocol::node_to_master::{
    Advertise, AdvertiseService, DeleteParam, Heartbeat, LookupService, NodeRegistration, SetParam,
    Subscribe, Unadvertise, UnadvertiseService, UnregisterNode, Unsubscribe, WatchParams,
};
use std::time::Instant;

impl Registry {
    pub(super) fn on_register(
        &mut self,
        registration: NodeRegistration,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> u64 {
        self.register(registration, now, notices);
        self.master_session
    }

    pub(super) fn on_heartbeat(&mut self, r: Heartbeat, now: Instant) -> Result<u64, MasterError> {
        self.check(&r.0, now)?;
        Ok(self.master_session)
    }

    pub(super) fn on_unregister(
        &mut self,
        r: UnregisterNode,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> Result<(), MasterError> {
        self.check(&r.0, now)?;
        self.remove_node(&r.0.node, notices);
        Ok(())
    }

    pub(super) fn on_advertise(
        &mut self,
        r: Advertise,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> Result<Listing<SubscriberInfo>, MasterError> {
        self.check(&r.caller, now)?;
        self.check_type(&r.topic, &r.type_info)?;
        let entry = self.topics.entry(r.topic.clone()).or_default();
        entry.type_info.get_or_insert(r.type_info);
        entry
            .publishers
            .insert(r.publisher_id, (r.caller.node, r.latched));
        self.notify_subscribers(&r.topic, notices);
        Ok(self.subscriber_list(&r.topic))
    }

    pub(super) fn on_unadvertise(
        &mut self,
        r: Unadvertise,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> Result<(), MasterError> {
        self.check(&r.caller, now)?;
        if let Some(entry) = self.topics.get_mut(&r.topic) {
            entry.publishers.remove(&r.publisher_id);
        }
        self.notify_subscribers(&r.topic, notices);
        self.drop_if_empty(&r.topic);
        Ok(())
    }

    pub(super) fn on_subscribe(
        &mut self,
        r: Subscribe,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> Result<Listing<PublisherInfo>, MasterError> {
        self.check(&r.caller, now)?;
        self.check_type(&r.topic, &r.type_info)?;
        let entry = self.topics.entry(r.topic.clone()).or_default();
        entry.type_info.get_or_insert(r.type_info);
        entry.subscribers.insert(r.subscriber_id, r.caller.node);
        self.notify_publishers(&r.topic, notices);
        Ok(self.publisher_list(&r.topic))
    }

    pub(super) fn on_unsubscribe(
        &mut self,
        r: Unsubscribe,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> Result<(), MasterError> {
        self.check(&r.caller, now)?;
        if let Some(entry) = self.topics.get_mut(&r.topic) {
            entry.subscribers.remove(&r.subscriber_id);
        }
        self.notify_publishers(&r.topic, notices);
        self.drop_if_empty(&r.topic);
        Ok(())
    }

    pub(super) fn on_advertise_service(
        &mut self,
        r: AdvertiseService,
        now: Instant,
    ) -> Result<(), MasterError> {
        self.check(&r.caller, now)?;
        for t in [&r.request, &r.response] {
            if !t.is_consistent() {
                return Err(MasterError::new(
                    MasterErrorKind::Invalid,
                    format!(
                        "type `{}` has a hash that does not match its schema",
                        t.name
                    ),
                ));
            }
        }
        if let Some(existing) = self.services.get(&r.name) {
            if existing.node != r.caller.node {
                service_types_match(&r.name, existing, &r.request, &r.response)?;
            }
        }
        self.services.insert(
            r.name,
            ServiceEntry {
                node: r.caller.node,
                request: r.request,
                response: r.response,
                endpoints: r.endpoints,
            },
        );
        Ok(())
    }

    pub(super) fn on_unadvertise_service(
        &mut self,
        r: UnadvertiseService,
        now: Instant,
    ) -> Result<(), MasterError> {
        self.check(&r.caller, now)?;
        if self
            .services
            .get(&r.name)
            .is_some_and(|s| s.node == r.caller.node)
        {
            self.services.remove(&r.name);
        }
        Ok(())
    }

    pub(super) fn on_lookup_service(&self, r: LookupService) -> Result<ServiceInfo, MasterError> {
        let entry = self.services.get(&r.name).ok_or_else(|| {
            MasterError::new(
                MasterErrorKind::NoService,
                format!("no node serves `{}` (is its server running?)", r.name),
            )
        })?;
        service_types_match(&r.name, entry, &r.request, &r.response)?;
        let host = self
            .nodes
            .get(&entry.node)
            .map(|n| n.registration.host.clone())
            .unwrap_or_default();
        Ok(ServiceInfo {
            node: entry.node.clone(),
            host,
            endpoints: entry.endpoints.clone(),
        })
    }

    pub(super) fn on_set_param(
        &mut self,
        r: SetParam,
        notices: &mut Vec<Notice>,
    ) -> Result<(), MasterError> {
        let watchers = self.params.set(r.key.clone(), r.value_json.clone())?;
        self.tell_watchers(watchers, &r.key, Some(r.value_json), notices);
        Ok(())
    }

    pub(super) fn on_delete_param(
        &mut self,
        r: DeleteParam,
        notices: &mut Vec<Notice>,
    ) -> Result<(), MasterError> {
        let watchers = self.params.delete(&r.key)?;
        self.tell_watchers(watchers, &r.key, None, notices);
        Ok(())
    }

    pub(super) fn on_watch_params(
        &mut self,
        r: WatchParams,
        now: Instant,
    ) -> Result<Vec<(String, String)>, MasterError> {
        self.check(&r.caller, now)?;
        Ok(self.params.watch(&r.caller.node, r.keys))
    }
}
